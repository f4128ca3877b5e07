"""Tracking in metric 3-D: positions, velocities in m/s and trajectories of a known motion, and
the depth-overlap sequences where pairs look alike in the image at different depths: 3-D
association keeps them apart where 2-D IoU swaps them (scored with motmetrics)."""

from __future__ import annotations

import numpy as np

from sensorium.models.data.trajectories import depth_overlap_sequence
from sensorium.stages.track.bytetrack import ByteTracker, Observations, TrackerParams
from sensorium.stages.track.evaluate import run_tracker, score


def test_position_velocity_and_trajectory_of_a_walking_object():
    tr = ByteTracker(TrackerParams(trajectory_length=5))
    v, f = np.array([1.2, 0.0, -0.5]), 600.0
    rng = np.random.default_rng(0)
    for k in range(40):
        t = k / 15  # 15 fps: velocities are per second, not per frame
        p = np.array([0.0, 0.2, 6.0]) + v * t
        u, w = 320 + f * p[0] / p[2], 240 + f * p[1] / p[2]
        h = f * 1.7 / p[2]
        b = np.array([[u - 0.2 * h, w - h / 2, u + 0.2 * h, w + h / 2]])
        st = tr.update(t, Observations(b, [0.9], [0], (p + rng.normal(0, 0.03, 3))[None], np.full((1, 3), 0.03)))
    np.testing.assert_allclose(st.xyz[0], p, atol=0.1)
    np.testing.assert_allclose(st.velocity[0], v, atol=0.2)
    assert st.trajectory.shape == (1, 5, 3) and np.isfinite(st.trajectory).all()
    np.testing.assert_allclose(np.diff(st.trajectory[0], axis=0), np.tile(v / 15, (4, 1)), atol=0.06)


def test_trajectory_is_nan_padded_while_short_and_2d_items_give_no_3d_fields():
    tr = ByteTracker(TrackerParams(trajectory_length=4))
    st = tr.update(0.0, Observations([[0, 0, 10, 10]], [0.9], [0], [[1.0, 2.0, 3.0]], [[0.1, 0.1, 0.1]]))
    assert np.isnan(st.trajectory[0, :3]).all() and st.trajectory[0, 3].tolist() == [1.0, 2.0, 3.0]
    st = ByteTracker().update(0.0, Observations([[0, 0, 10, 10]], [0.9], [0]))
    assert st.xyz is None and st.velocity is None and st.trajectory is None


def test_3d_association_beats_2d_where_boxes_overlap_at_different_depths():
    s3, s2 = [], []
    for seed in range(4):
        seq = depth_overlap_sequence(seed)
        s3.append(score(seq, run_tracker(seq)))
        s2.append(score(seq, run_tracker(seq, use_xyz=False)))
    switches3, switches2 = sum(s.id_switches for s in s3), sum(s.id_switches for s in s2)
    idf1_3, idf1_2 = np.mean([s.idf1 for s in s3]), np.mean([s.idf1 for s in s2])
    assert switches3 * 2 <= switches2, (switches3, switches2)
    assert idf1_3 >= idf1_2 + 0.03, (idf1_3, idf1_2)
    assert np.mean([s.mota for s in s3]) >= np.mean([s.mota for s in s2]) - 0.01  # the gate costs no coverage
