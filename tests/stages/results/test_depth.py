"""Depth and its rectification: validation, summary, the transform back to the source camera."""

from __future__ import annotations

import json
from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import pytest

from sensorium.stages.results import Depth, Rectification

@pytest.mark.parametrize("kwargs, expectation", [
    (dict(depth=np.zeros((4, 5)), confidence=np.zeros((4, 5)), K=np.eye(3)), does_not_raise()),
    (dict(depth=np.zeros((4, 5, 1)), confidence=np.zeros((4, 5)), K=np.eye(3)), pytest.raises(ValueError, match="Depth.depth: expected 2-d")),
    (dict(depth=np.zeros((4, 5)), confidence=np.zeros((5, 4)), K=np.eye(3)), pytest.raises(ValueError, match="Depth.confidence")),
    (dict(depth=np.zeros((4, 5)), confidence=np.zeros((4, 5)), K=np.eye(4)), pytest.raises(ValueError, match="Depth.K")),
    (dict(depth=np.zeros((4, 5)), confidence=np.zeros((4, 5)), K=np.eye(3), points=np.zeros((2, 3))), pytest.raises(ValueError, match="points and colors")),
])
def test_depth_validates_on_construction(kwargs, expectation):
    with expectation:
        Depth(**kwargs)


def test_depth_summary_is_small_and_json():
    d = Depth(depth=np.array([[0, 1], [2, 3]], np.float32), confidence=np.ones((2, 2)), K=np.eye(3))
    s = json.loads(json.dumps(d.summary()))
    assert s["valid_fraction"] == 0.75 and s["depth_min_m"] == 1 and s["depth_max_m"] == 3 and s["depth_median_m"] == 2


def _rotation(rx: float) -> np.ndarray:
    return cv2.Rodrigues(np.array([rx, 0.0, 0.0]))[0]


@pytest.mark.parametrize("kwargs, expectation", [
    (dict(R=np.eye(3), K=np.eye(3), D=np.zeros(5), P=np.eye(3)), does_not_raise()),
    (dict(R=np.eye(3), K=np.eye(3), D=[[0.1, 0.0, 0.0, 0.0]], P=np.eye(3)), does_not_raise()),  # any shape of coefficients, flattened
    (dict(R=np.eye(4), K=np.eye(3), D=np.zeros(5), P=np.eye(3)), pytest.raises(ValueError, match=r"Rectification.R: expected shape \(3, 3\)")),
    (dict(R=np.eye(3), K=np.eye(3), D=np.zeros(5), P=np.zeros((3, 4))), pytest.raises(ValueError, match="Rectification.P")),
])
def test_rectification_validates_on_construction(kwargs, expectation):
    with expectation:
        Rectification(**kwargs)


def test_depth_rejects_a_rectification_of_another_type():
    with pytest.raises(ValueError, match="Depth.rectification: expected Rectification or None, got dict"):
        Depth(depth=np.zeros((4, 5)), confidence=np.zeros((4, 5)), K=np.eye(3), rectification={"R": np.eye(3)})


def test_to_source_undoes_the_rotation():
    R = _rotation(0.1)
    rect = Rectification(R=R, K=np.eye(3), D=np.zeros(5), P=np.eye(3))
    X_left = np.array([0.3, -0.2, 2.0, 1.0])
    X_rect = np.r_[R @ X_left[:3], 1.0]
    np.testing.assert_allclose(rect.to_source @ X_rect, X_left, atol=1e-12)


def test_rectify_image_moves_a_point_where_the_rotation_sends_it():
    """A bright dot at pixel u in the source camera lands at P R K^-1 u in the rectified view."""
    K = np.array([[200.0, 0, 80], [0, 200.0, 60], [0, 0, 1]])
    R = _rotation(0.05)
    image = np.zeros((120, 160), np.uint8)
    image[58:63, 98:103] = 255  # centre (100, 60)
    out = Rectification(R=R, K=K, D=np.zeros(5), P=K).rectify_image(image)
    want = K @ R @ np.linalg.inv(K) @ np.array([100.0, 60.0, 1.0])
    want = want[:2] / want[2]
    ys, xs = np.nonzero(out > 127)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert abs(xs.mean() - want[0]) < 0.75 and abs(ys.mean() - want[1]) < 0.75
    assert abs(want[1] - 60.0) > 5  # the rotation moved it: the check can tell


def test_rectification_round_trips_through_json():
    rect = Rectification(R=_rotation(0.02), K=np.diag([500.0, 500.0, 1.0]), D=np.array([0.1, -0.05, 0.0, 0.0, 0.01]), P=np.eye(3))
    d = Depth(depth=np.ones((2, 3)), confidence=np.ones((2, 3)), K=np.eye(3), rectification=rect)
    back = Depth.from_dict(json.loads(json.dumps(d.to_dict())))
    assert back == d and back.rectification == rect
    assert back != Depth(depth=np.ones((2, 3)), confidence=np.ones((2, 3)), K=np.eye(3))  # rectification takes part in equality
