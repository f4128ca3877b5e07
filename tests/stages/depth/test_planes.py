"""Segment planes for the holes (planes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.depth import stereo
from sensorium.stages.depth.planes import MIN_SUPPORT, fit_planes, plane_fill


def _slanted(h: int = 60, w: int = 120) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return (20 + 0.1 * xs + 0.05 * ys).astype(np.float32)


def test_a_robust_plane_ignores_a_tenth_of_wrong_pixels() -> None:
    """With 10% of the pixels 5-30 px off, the fit stays within 0.3 px of the clean fit (least
    squares would move by ~1.7 px); the inlier share says how many lie on it."""
    d = _slanted()
    rng = np.random.default_rng(0)
    wrong = rng.random(d.shape) < 0.1
    noisy = np.where(wrong, d + rng.uniform(5, 30, d.shape).astype(np.float32), d)
    labels, everywhere = np.zeros(d.shape, int), np.ones(d.shape, bool)
    clean, _, _ = fit_planes(labels, d, everywhere)
    params, support, inliers = fit_planes(labels, noisy, everywhere)
    h, w = d.shape

    def plane(p: np.ndarray) -> np.ndarray:
        return p[0, 0] + p[0, 1] * np.arange(w)[None, :] / 100 + p[0, 2] * np.arange(h)[:, None] / 100

    assert np.abs(plane(params) - plane(clean)).max() < 0.3  # Huber weights: a small pull is left
    assert np.abs(plane(clean) - d).mean() < 0.35  # the ridge pulls towards flat (planes.RIDGE)
    assert support[0] == d.size and 0.85 < inliers[0] < 0.92


def test_holes_take_their_segments_plane_where_it_is_supported() -> None:
    """Left half: a slanted surface with a hole the scan-line fill answers flat; right half: a
    segment of another colour with too few checked pixels, whose fill stays."""
    d = _slanted()
    h, w = d.shape
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 2] = (200, 40, 40)
    image[:, w // 2:] = (40, 40, 200)
    checked = np.ones((h, w), bool)
    checked[20:40, 20:40] = False  # a hole inside the red surface
    checked[:, w // 2:] = False
    checked[:2, w // 2: w // 2 + MIN_SUPPORT // 4] = True  # a few checked pixels only
    sparse = np.where(checked, d, np.float32(-1))
    filled, was_filled = stereo.fill_holes(sparse, stereo.to_grey(image), smooth=False)
    maps = stereo.StereoMaps(filled, np.ones_like(d), checked, was_filled)
    out = plane_fill(maps, image)
    plane_err = np.abs(out.disparity[20:40, 20:40] - d[20:40, 20:40])
    scan_err = np.abs(filled[20:40, 20:40] - d[20:40, 20:40])
    assert plane_err.max() < 0.5 and plane_err.mean() < 0.25 and scan_err.mean() > 0.7, (plane_err.mean(), scan_err.mean())
    unsupported = ~checked & (np.arange(w)[None, :] >= w // 2)
    np.testing.assert_array_equal(out.disparity[unsupported], filled[unsupported])
    np.testing.assert_array_equal(out.disparity[checked], d[checked])
    assert (out.filled == maps.filled).all() and (out.matched == maps.matched).all()


def test_plane_fill_refuses_an_image_of_another_size() -> None:
    d = _slanted()
    maps = stereo.StereoMaps(d, np.ones_like(d), np.ones(d.shape, bool), np.zeros(d.shape, bool))
    with pytest.raises(ValueError, match=r"image \(10, 10, 3\) and disparity \(60, 120\) differ in size"):
        plane_fill(maps, np.zeros((10, 10, 3), np.uint8))
