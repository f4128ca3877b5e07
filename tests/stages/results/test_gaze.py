"""Gaze vectors from yaw and pitch."""

from __future__ import annotations

import numpy as np

from sensorium.stages.results import Gaze

def test_gaze_vectors_are_unit_and_look_at_the_camera_at_zero():
    g = Gaze(yaw_pitch=[[0.0, 0.0], [0.3, -0.2]], sigma=np.zeros((2, 2)))
    v = g.vectors
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0) and np.allclose(v[0], [0, 0, -1])


def test_gaze_without_a_trained_head_carries_no_sigma():
    import json

    g = Gaze(yaw_pitch=[[0.1, 0.2]], origin=[[5.0, 6.0]])
    d = json.loads(json.dumps(g.to_dict()))
    assert g.sigma is None and d["sigma"] is None and Gaze.from_dict(d).sigma is None
