"""Sizes that scale with the image, colours per id, labels that stay on the image, translucent layers."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import pytest

from sensorium.pipeline.draw.style import PALETTE, ColorLookup, Translucent, label, palette, pick_colors, style_for


def test_sizes_grow_with_the_shorter_side():
    small, vga, uhd = (style_for(np.zeros((h, w, 3), np.uint8)) for h, w in ((240, 320), (480, 640), (2160, 3840)))
    assert small.thickness == 1 and uhd.thickness >= 5
    assert 6 <= small.text_height <= 10  # readable on a thumbnail
    assert uhd.text_height >= 5 * small.text_height and small.text_height < vga.text_height < uhd.text_height
    assert style_for(np.zeros((240, 320, 3), np.uint8), 2.0).text_height > small.text_height


@pytest.mark.parametrize("scale, expectation", [(1.0, does_not_raise()), (0.0, pytest.raises(ValueError, match="scale"))])
def test_style_scale_is_checked(scale, expectation):
    with expectation:
        style_for(np.zeros((10, 10, 3), np.uint8), scale)


def test_palette_is_distinct_and_stable():
    assert len({tuple(c) for c in PALETTE}) == len(PALETTE)
    assert palette(3) == palette(3 + len(PALETTE))
    near = np.abs(np.array(palette(0), int) - np.array(palette(1), int)).max()
    assert near > 60  # neighbouring ids never look alike


def test_colours_follow_the_lookup():
    cls, tid = np.array([0, 0, 1]), np.array([5, 6, 7])
    by_class = pick_colors(ColorLookup.CLASS, 3, cls, tid)
    by_track = pick_colors(ColorLookup.TRACK, 3, cls, tid)
    assert by_class[0] == by_class[1] != by_class[2]
    assert len(set(by_track)) == 3 and by_track[0] == palette(5)
    assert pick_colors("track", 3, cls, None) == pick_colors(ColorLookup.INDEX, 3, None, None)  # no track ids: by index
    with pytest.raises(ValueError):
        pick_colors("colour", 3, cls, tid)


@pytest.mark.parametrize("xy", [(0, 0), (630, 5), (-50, 470), (600, 479)])
def test_labels_stay_on_the_image(xy):
    img = np.zeros((480, 640, 3), np.uint8)
    label(img, "person 0.91 #12 3.40 m", xy, (255, 0, 0), style_for(img))
    ys, xs = np.nonzero(img.any(axis=-1))
    assert len(xs) > 200  # drawn, not clipped away
    assert xs.max() < 640 and ys.max() < 480


def test_translucent_mixes_what_was_drawn_inside_its_box_only():
    img = np.full((100, 100, 3), 100, np.uint8)
    with Translucent(img, 0.5, (10, 10, 30, 30)) as layer:
        ox, oy = layer.origin
        cv2.rectangle(layer.image, (10 - ox, 10 - oy), (30 - ox, 30 - oy), (200, 200, 200), -1)
        cv2.rectangle(layer.image, (60 - ox, 60 - oy), (80 - ox, 80 - oy), (200, 200, 200), -1)  # outside the box: lost
    assert tuple(img[20, 20]) == (150, 150, 150)
    assert tuple(img[70, 70]) == (100, 100, 100) and tuple(img[5, 5]) == (100, 100, 100)
    with Translucent(img, 0.5, (-50, -50, -10, -10)) as layer:  # off the image: nothing to blend
        assert layer.image.size == 0
