"""Eye-in-head angles from a synthetic eye whose iris offset is known."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.gaze import eyes


def _eye(offset_x: float, offset_y: float, width: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """One face's (2, 71, 3) contour and (2, 5, 3) iris: corners at 0 and ``width``, iris offset from their midpoint."""
    contour = np.zeros((2, 71, 3), np.float32)
    contour[:, eyes.OUTER, 0], contour[:, eyes.INNER, 0] = 0.0, width
    contour[:, eyes.UPPER, :2], contour[:, eyes.LOWER, :2] = [width / 2, -5], [width / 2, 5]
    iris = np.zeros((2, 5, 3), np.float32)
    iris[:, 0, :2] = [width / 2 + offset_x, offset_y]
    iris[:, 1:, :2] = iris[:, :1, :2] + np.array([[3, 0], [-3, 0], [0, 3], [0, -3]], np.float32)
    return contour, iris


@pytest.mark.parametrize("angle", [-0.4, 0.0, 0.3])
def test_iris_offset_gives_the_eyes_yaw(angle):
    """An iris moved toward the image's right by r sin(a) (r the eyeball radius) looks yaw -a (toward the image's right)."""
    r = eyes.EYEBALL_RATIO * 30.0
    contour, iris = _eye(r * np.sin(angle), -eyes.NEUTRAL_RISE * r)
    out = eyes.eye_geometry(contour, iris, np.eye(3))
    np.testing.assert_allclose(out["angles"][:, 0], -angle, atol=1e-5)
    np.testing.assert_allclose(out["angles"][:, 1], 0.0, atol=1e-5)
    np.testing.assert_allclose(out["openness"], 10 / 30, atol=1e-6)
    np.testing.assert_allclose(out["iris_ratio"], 3 / 30, atol=1e-6)


def test_an_iris_above_its_rest_looks_up_and_offsets_past_the_rim_are_held():
    r = eyes.EYEBALL_RATIO * 30.0
    up = eyes.eye_geometry(*_eye(0.0, -eyes.NEUTRAL_RISE * r - 0.5 * r), np.eye(3))
    np.testing.assert_allclose(up["angles"][:, 1], np.arcsin(0.5), atol=1e-5)
    far = eyes.eye_geometry(*_eye(5 * r, 0.0), np.eye(3))
    assert np.isfinite(far["angles"]).all() and (np.abs(far["angles"][:, 0]) < np.pi / 2).all()


def test_the_offset_is_read_in_the_heads_frame():
    """A head rolled by 90 degrees: an image-vertical iris offset is a horizontal one for the eye."""
    r = eyes.EYEBALL_RATIO * 30.0
    contour, iris = _eye(0.0, 0.3 * r)
    R = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # head x -> image y
    out = eyes.eye_geometry(contour, iris, R)
    rest = eyes.NEUTRAL_RISE  # the head-frame y offset is 0: the eye looks down by its rest rise
    np.testing.assert_allclose(out["angles"][:, 0], -np.arctan2(0.3, np.sqrt(1 - 0.3**2 - rest**2)), atol=1e-5)
