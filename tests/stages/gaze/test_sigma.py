"""The sigma head's features: one finite value per name, in order."""

from __future__ import annotations

import numpy as np

from sensorium.stages.gaze.sigma import FEATURES, apply_correction, face_features


def test_features_follow_their_names():
    f = face_features(roi_side=200.0, presence=0.9, openness=np.array([0.3, 0.25]), iris_ratio=np.array([0.2, 0.21]),
                      head=np.array([-0.3, 0.1, 0.05]), eye_angles=np.array([[0.1, 0.0], [0.2, -0.1]]), sharpness=4.0,
                      outside=0.1, pnp_error=0.01, gaze=np.array([-0.2, 0.05]), eye_width=np.array([30.0, 28.0]))
    assert f.shape == (len(FEATURES),) and f.dtype == np.float32 and np.isfinite(f).all()
    named = dict(zip(FEATURES, f))
    assert named["abs_head_yaw"] == np.float32(0.3) and named["eye_yaw_gap"] == np.float32(0.1)
    assert named["log_face_px"] == np.float32(np.log(200.0)) and named["presence"] == np.float32(np.log(9.0))
    assert named["outside"] == np.float32(0.1) and named["log_eye_px"] == np.float32(np.log(28.0))
    assert named["open_min"] == np.float32(0.25) and named["iris_max"] == np.float32(0.21)


def test_the_yaw_correction_follows_the_estimates_side():
    raw = np.array([[0.3, 0.1], [-0.3, 0.1]], np.float32)
    out = apply_correction(raw, np.array([[0.05, -0.02], [0.05, -0.02]], np.float32))
    np.testing.assert_allclose(out, [[0.35, 0.08], [-0.35, 0.08]], atol=1e-6)  # mirrored faces, mirrored corrections
