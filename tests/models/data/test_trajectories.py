"""Generated MOT sequences: seeded, exact ground truth (visibility by hand), the events the
tracker is tested on actually happen (crossings, occlusion, exits and re-entries), the detector
noise is what it says, and the depth-overlap pairs overlap in the image at different depths."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.models.data.trajectories import SequenceConfig, crossing_sequence, depth_overlap_sequence, visibility


@pytest.fixture(scope="module")
def seq():
    return crossing_sequence(0)


def test_same_seed_same_sequence_other_seed_other():
    a, b, c = crossing_sequence(5, SequenceConfig(frames=40)), crossing_sequence(5, SequenceConfig(frames=40)), crossing_sequence(6, SequenceConfig(frames=40))
    assert all(np.array_equal(x.boxes, y.boxes) and np.array_equal(x.scores, y.scores) for x, y in zip(a.detections, b.detections))
    assert not np.array_equal(a.truth[0].boxes, c.truth[0].boxes)


def test_visibility_by_hand():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [-5, 0, 5, 10]], np.float64)
    vis = visibility(boxes, np.array([1.0, 2.0, 3.0]), width=100, height=100)
    # box 1 is behind box 0 on its left half; box 2 is half outside the image and behind box 0
    np.testing.assert_allclose(vis, [1.0, 0.5, 0.0])
    vis = visibility(boxes[:2], np.array([1.0, 2.0]), 100, 100, body=0.4)  # box 0's body spans x 3..7
    np.testing.assert_allclose(vis, [1.0, 0.8])


def test_events_happen(seq):
    ids_per_frame = [set(t.ids.tolist()) for t in seq.truth]
    # exits and re-entries: an object absent for a while comes back
    reentered = [i for i in range(1, 11) if any(i in a and i not in b for a, b in zip(ids_per_frame, ids_per_frame[1:]))
                 and any(i not in a and i in b for a, b in zip(ids_per_frame, ids_per_frame[1:]))]
    assert len(reentered) >= 2, reentered
    vis = np.concatenate([t.visibility for t in seq.truth])
    assert (vis < 0.6).mean() > 0.05 and (vis == 1).mean() > 0.5  # occlusions, mostly in plain view


def test_detector_noise(seq):
    gt = np.concatenate([d.gt_id for d in seq.detections])
    scores = np.concatenate([d.scores for d in seq.detections])
    n_truth = sum(len(t.ids) for t in seq.truth)
    assert 0.2 < (gt < 0).sum() / len(seq.truth) < 1.0  # false positives: 0.5 a frame on average
    assert 0.75 < (gt >= 0).sum() / n_truth < 0.95  # missed and hidden objects
    assert ((scores < 0.5) & (gt >= 0)).sum() > 100  # low-score boxes of partly hidden objects
    for truth, det in zip(seq.truth, seq.detections):
        for k in np.flatnonzero(det.gt_id >= 0):
            j = np.flatnonzero(truth.ids == det.gt_id[k])[0]
            w = truth.boxes[j, 2] - truth.boxes[j, 0]
            assert np.abs(det.boxes[k] - truth.boxes[j]).max() < 0.5 * max(w, 30), "jitter beyond 12 sigma"


def test_depth_overlap_pairs_look_alike_at_different_depths():
    s = depth_overlap_sequence(0)
    assert s.camera is not None
    t = s.truth[150]
    z = t.xyz[:, 2]
    near, far = t.ids <= 4, t.ids > 4
    assert z[near].max() < 5.0 < 7.0 <= z[far].min()
    overlaps = 0
    for truth in s.truth:
        b = truth.boxes
        for i in range(len(b)):
            for j in range(len(b)):
                if truth.ids[i] + 4 == truth.ids[j]:
                    lt, rb = np.maximum(b[i, :2], b[j, :2]), np.minimum(b[i, 2:], b[j, 2:])
                    inter = np.prod(np.clip(rb - lt, 0, None))
                    overlaps += inter / np.prod(b[i, 2:] - b[i, :2]) > 0.5
    assert overlaps > 100  # pair members overlap by more than half their box for many frames
    d = s.detections[150]
    assert d.xyz is not None and d.xyz_spread is not None and d.xyz.shape == (len(d.scores), 3)
