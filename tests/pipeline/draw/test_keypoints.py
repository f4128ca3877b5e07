"""Skeletons and per-joint uncertainty ellipses on a real photo."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import pytest

from sensorium.pipeline.draw.keypoints import SkeletonAnnotator
from sensorium.pipeline.draw.style import style_for
from sensorium.stages.results import Keypoints
from tests.pipeline.draw.conftest import changed, everywhere, ring


def kps(xy, sigma=None, scores=None, skeleton=None) -> Keypoints:
    """One instance from (K, 2) points, (K, 2) sigmas and (K,) scores."""
    return Keypoints(xy=np.array([xy], np.float32), sigma=None if sigma is None else np.array([sigma], np.float32),
                     scores=None if scores is None else np.array([scores], np.float32),
                     metadata={} if skeleton is None else {"skeleton": skeleton})


def draw(image: np.ndarray, result: Keypoints, annotator: SkeletonAnnotator = SkeletonAnnotator()) -> np.ndarray:
    return annotator.annotate(image.copy(), result)


def test_skeleton_edges_are_drawn_only_when_given(zidane):
    points = [[300, 300], [500, 420]]
    middle = (390, 350, 410, 370)  # around the edge's midpoint (400, 360), far from both joints
    assert changed(draw(zidane, kps(points, skeleton=[[0, 1]])), zidane, middle) > 20
    assert changed(draw(zidane, kps(points)), zidane, middle) == 0
    # the annotator's own skeleton wins over the result's
    assert changed(draw(zidane, kps(points), SkeletonAnnotator(skeleton=((0, 1),))), zidane, middle) > 20


@pytest.mark.parametrize(
    "skeleton, expectation",
    [
        ([[0, 1]], does_not_raise()),
        ([], does_not_raise()),
        ([[0, 2]], pytest.raises(ValueError, match=r"skeleton.*\[0, 2\)")),
        ([[0, 1, 1]], pytest.raises(ValueError, match="skeleton")),
        ([[0.5, 1]], pytest.raises(ValueError, match="skeleton")),
    ],
)
def test_skeleton_is_validated(zidane, skeleton, expectation):
    with expectation:
        draw(zidane, kps([[300, 300], [500, 420]], skeleton=skeleton))


def test_larger_sigma_draws_a_larger_ellipse_and_none_draws_none(zidane):
    centre = (640, 300)
    big = draw(zidane, kps([centre], sigma=[[10, 10]]))
    small = draw(zidane, kps([centre], sigma=[[2, 2]]))
    none = draw(zidane, kps([centre], sigma=None))
    off = draw(zidane, kps([centre], sigma=[[10, 10]]), SkeletonAnnotator(sigma=False))
    box = (610, 270, 671, 331)
    assert changed(big, zidane, box) > changed(small, zidane, box) > 0
    dot = 2 * (style_for(zidane).thickness + 1)  # the joint's dot with its outline
    assert ring(big, zidane, centre, dot + 2, 10) > 100  # the 10 px ellipse fills the ring around the dot
    for quiet in (none, small, off):
        assert ring(quiet, zidane, centre, dot + 2, 40) == 0
    # translucent: the photo still shows through the ellipse
    inside = np.abs(big[300, 640 + dot + 4].astype(int) - zidane[300, 640 + dot + 4].astype(int)).max()
    assert 0 < inside < 200


def test_ellipse_axes_follow_sigma_x_and_sigma_y(zidane):
    wide = draw(zidane, kps([(640, 300)], sigma=[[30, 5]]))
    assert changed(wide, zidane, (662, 296, 668, 304)) > 0  # 25 px right: inside sigma_x
    assert changed(wide, zidane, (636, 322, 644, 328)) == 0  # 25 px down: outside sigma_y


def test_nan_and_low_score_points_draw_nothing_nor_their_edges(zidane):
    nan = draw(zidane, kps([[np.nan, np.nan]], sigma=[[10, 10]]))
    assert changed(nan, zidane, everywhere(zidane)) == 0
    # joint 1 is NaN, joint 2 scores too low: neither they nor the edges to them show; joint 0 does
    out = draw(zidane, kps([[300, 300], [np.nan, 400], [500, 300]], sigma=[[5, 5], [5, 5], [5, 5]],
                           scores=[0.9, 0.9, 0.1], skeleton=[[0, 1], [0, 2], [1, 2]]))
    assert changed(out, zidane, (290, 290, 311, 311)) > 0
    assert changed(out, zidane, (320, 280, 480, 320)) == 0  # where the 0-2 edge would run
    assert changed(out, zidane, (490, 290, 511, 311)) == 0
    lenient = draw(zidane, kps([[500, 300]], scores=[0.1]), SkeletonAnnotator(min_score=0.05))
    assert changed(lenient, zidane, (490, 290, 511, 311)) > 0


def test_lines_thicken_with_the_image(zidane):
    """Legible from thumbnails to 4K: the edge across a cut is wider on a larger image."""
    widths = []
    for side in (320, 3840):
        img = cv2.resize(zidane, (side, side * 9 // 16), interpolation=cv2.INTER_AREA)
        h = img.shape[0]
        out = draw(img, kps([[side * 0.2, h * 0.5], [side * 0.8, h * 0.5]], skeleton=[[0, 1]]))
        widths.append(int(np.any(out[:, side // 2] != img[:, side // 2], axis=-1).sum()))
    assert 1 <= widths[0] <= 4 and widths[1] >= 2 * widths[0] + 2


def test_instance_boxes_are_drawn(zidane):
    result = Keypoints(xy=np.array([[[300, 300]]], np.float32), boxes=np.array([[200, 200, 400, 500]], np.float32))
    assert changed(draw(zidane, result), zidane, (195, 195, 205, 505)) > 200
