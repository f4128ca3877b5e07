"""Segment planes for the holes (planes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.depth import stereo
from sensorium.stages.depth.planes import MIN_SUPPORT, fit_planes, plane_fill, segments


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


def test_segments_follow_colour_edges_not_the_seed_grid() -> None:
    """Two flat colours (with sensor noise) split by a slanted edge that crosses the seed grid's
    cells: every segment lies on one side of it (but for a pixel or two where the edge meets
    the image border), and the superpixels of one colour merge into few segments."""
    h, w = 150, 200
    ys, xs = np.mgrid[0:h, 0:w]
    red = xs < 70 + 0.6 * ys  # a slanted edge, through the middle of grid cells
    image = np.where(red[..., None], np.array([190, 60, 50], np.uint8), np.array([60, 80, 180], np.uint8))
    noise = np.random.default_rng(0).normal(0, 3, image.shape)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    labels = segments(image)
    assert labels.shape == (h, w) and labels.min() == 0
    n = labels.max() + 1
    on_red = np.bincount(labels[red], minlength=n)
    on_blue = np.bincount(labels[~red], minlength=n)
    minority = np.minimum(on_red, on_blue)
    assert minority.sum() <= 4 and (minority <= 0.02 * (on_red + on_blue)).all(), "a segment crosses the colour edge"
    assert 2 <= n <= 4, n  # superpixels 16 px apart: ~120 of them, merged by colour
    assert segments(image[..., 0]).shape == (h, w)  # grey works too


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 7), (5, 300, 3)])
def test_segments_of_tiny_and_thin_images_cover_every_pixel(shape: tuple[int, ...]) -> None:
    labels = segments(np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8))
    assert labels.shape == shape[:2] and labels.min() == 0


def test_segments_refuse_other_images() -> None:
    with pytest.raises(ValueError, match=r"segments: expected an \(H, W, 3\) or \(H, W\) uint8 image, got \(4, 4, 3\) float32"):
        segments(np.zeros((4, 4, 3), np.float32))


def test_fitting_only_the_wanted_segments_gives_them_the_same_planes() -> None:
    d = _slanted()
    labels = (np.arange(d.shape[1])[None, :] // 40).repeat(d.shape[0], 0)  # three segments
    d = d + 3.0 * labels  # each its own offset
    checked = np.ones(d.shape, bool)
    every = fit_planes(labels, d, checked)
    some = fit_planes(labels, d, checked, np.array([False, True, False]))
    for a, b in zip(every, some):
        np.testing.assert_allclose(b[1], a[1], rtol=1e-9)
        assert not b[[0, 2]].any()
    with pytest.raises(ValueError, match=r"wanted: expected \(3,\) bool, one per segment, got \(2,\)"):
        fit_planes(labels, d, checked, np.array([True, False]))
