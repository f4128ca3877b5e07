"""Rendered eyes: deterministic, and the gaze label matches the iris that is drawn."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensorium.models.data.eyes import EyesConfig, eye_batch, gaze_vector, render_eye

CLEAN = EyesConfig(occlusion=0.0, blur=(0.0, 0.0), noise=(0.0, 0.0))


def _pupil(image: np.ndarray, centre: np.ndarray, window: int = 12) -> np.ndarray:
    """The darkest point (3x3 mean) within ``window`` px of the eye centre: the drawn pupil, (x, y) continuous px."""
    lum = cv2.blur(image.astype(np.float32).mean(-1), (3, 3))
    x0, y0 = (int(c) - window for c in centre)
    roi = lum[max(y0, 0):y0 + 2 * window, max(x0, 0):x0 + 2 * window]
    y, x = np.unravel_index(np.argmin(roi), roi.shape)
    return np.array([x + max(x0, 0) + 0.5, y + max(y0, 0) + 0.5])


def test_deterministic_per_seed_and_index():
    a, b = render_eye(0, 7), render_eye(0, 7)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.gaze, b.gaze)
    assert not np.array_equal(render_eye(1, 7).image, a.image)
    images, gaze = eye_batch(0, 5, 3)
    assert images.shape == (3, 64, 64, 3) and images.dtype == np.uint8 and gaze.shape == (3, 2)
    assert np.array_equal(images[2], render_eye(0, 7).image)


def test_gaze_vector_convention():
    assert np.allclose(gaze_vector(0.0, 0.0), [0, 0, -1])  # toward the camera
    assert gaze_vector(0.3, 0.0)[0] > 0 and gaze_vector(0.0, 0.3)[1] < 0  # yaw to +x, pitch up (-y)
    assert np.allclose(np.linalg.norm(gaze_vector(np.array([0.2, -0.5]), np.array([0.4, 0.1])), axis=-1), 1)


@pytest.mark.parametrize("index", range(8))
def test_iris_moves_with_yaw_and_pitch(index):
    left, right = render_eye(3, index, CLEAN, (-0.35, 0.0)), render_eye(3, index, CLEAN, (0.35, 0.0))
    down, up = render_eye(3, index, CLEAN, (0.0, -0.25)), render_eye(3, index, CLEAN, (0.0, 0.25))
    # the label's iris moves the way the gaze turns, and so does the pupil actually drawn
    assert right.iris_xy[0] - left.iris_xy[0] > 4 and down.iris_xy[1] - up.iris_xy[1] > 3
    assert _pupil(right.image, right.eye_centre)[0] - _pupil(left.image, left.eye_centre)[0] > 3


def test_drawn_pupil_is_at_the_labelled_iris_centre():
    dist = []
    for i in range(40):
        s = render_eye(4, i, CLEAN, (float(np.sin(i)) * 0.4, float(np.cos(i)) * 0.2))
        dist.append(np.linalg.norm(_pupil(s.image, s.eye_centre) - s.iris_xy))
    assert np.median(dist) < 1.5 and np.mean(np.array(dist) < 3) >= 0.9, np.round(dist, 1)


def test_labels_cover_the_configured_range():
    gaze = np.stack([render_eye(5, i).gaze for i in range(300)])
    cfg = EyesConfig()
    assert np.abs(gaze[:, 0]).max() <= cfg.max_yaw and np.abs(gaze[:, 1]).max() <= cfg.max_pitch
    assert gaze[:, 0].min() < -0.8 * cfg.max_yaw and gaze[:, 0].max() > 0.8 * cfg.max_yaw
