"""Rotated square regions: the crop/projection round trip, the angle, and regions over the border."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.models.arch.mediapipe.roi import Roi, crop, project, roi_from_box, roi_from_landmarks


def test_patch_to_image_places_and_turns_the_crop():
    roi = Roi(cx=100, cy=50, side=40, angle=0.0)
    np.testing.assert_allclose(roi.corners(), [[80, 30], [120, 30], [120, 70], [80, 70]])
    turned = Roi(cx=100, cy=50, side=40, angle=np.pi / 2)  # the crop's x axis points down the image
    np.testing.assert_allclose(turned.corners(), [[120, 30], [120, 70], [80, 70], [80, 30]], atol=1e-9)


@pytest.mark.parametrize("angle", [0.0, 0.5, -2.0])
def test_crop_then_project_finds_the_same_image_point(angle):
    image = np.zeros((120, 160, 3), np.uint8)
    image[70:73, 90:93] = 255  # a bright dot centred at (91, 71)
    roi = Roi(cx=85, cy=65, side=60, angle=angle)
    patch, to_image = crop(image, roi, 96)
    ys, xs = np.nonzero(patch[..., 0] > 100)
    found = project(np.array([[xs.mean() + 0.5, ys.mean() + 0.5]]), to_image, 96)  # pixel centres
    np.testing.assert_allclose(found[0], [91.5, 71.5], atol=0.3)


def test_project_scales_depth_with_the_zoom():
    roi = Roi(cx=0, cy=0, side=384, angle=0.3)  # 2 image pixels per crop pixel
    out = project(np.array([[96.0, 96.0, 10.0]]), roi.patch_to_image(192), 192)
    np.testing.assert_allclose(out, [[0, 0, 20]], atol=1e-4)


def test_a_region_over_the_border_is_cropped_with_replicated_edges():
    image = np.zeros((50, 50, 3), np.uint8)
    image[:, -1] = 200  # the last column
    patch, _ = crop(image, Roi(cx=50, cy=25, side=40, angle=0.0), 40)
    assert patch.shape == (40, 40, 3)
    assert (patch[:, 25:, 0] == 200).all() and (patch[:, :15, 0] == 0).all()


@pytest.mark.parametrize("box, expectation", [
    ([10, 20, 30, 60], does_not_raise()),
    ([10, 20, 10, 60], pytest.raises(ValueError, match=r"x1 > x0 and y1 > y0, got \[10.0, 20.0, 10.0, 60.0\]")),
    ([10, 20, 30], pytest.raises(ValueError, match=r"expected a box")),
])
def test_roi_from_box_squares_the_longer_side(box, expectation):
    with expectation:
        roi = roi_from_box(np.array(box), np.array([0, 0]), np.array([1, 1]), scale=1.5)
        assert (roi.cx, roi.cy, roi.side) == (20, 40, 60) and roi.angle == pytest.approx(np.pi / 4)


def test_roi_from_landmarks_uses_their_box_and_the_named_points():
    pts = np.array([[0, 0, 5], [10, 0, 0], [10, 20, 0], [5, 10, 0]], np.float32)
    roi = roi_from_landmarks(pts, 3, 2, scale=1.0)
    assert (roi.cx, roi.cy, roi.side) == (5, 10, 20) and roi.angle == pytest.approx(np.arctan2(10, 5))
    with pytest.raises(ValueError, match=r"positive side"):
        Roi(cx=0, cy=0, side=0, angle=0)
