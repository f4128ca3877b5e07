"""The generated icons: reproducible from (seed, index), every class drawn, captions naming their class."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.models.data.icons import CLASSES, ICONS, icon_pairs, icon_sample, render_icon, toolbar_screen


def test_a_sample_is_a_pure_function_of_seed_and_index():
    a, cap_a, cls_a = icon_sample(3, 17)
    b, cap_b, cls_b = icon_sample(3, 17)
    assert np.array_equal(a, b) and (cap_a, cls_a) == (cap_b, cls_b)
    other = icon_pairs(4, 8)[0]
    assert not any(np.array_equal(a, o) for o in other)


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_draws_a_glyph_in_the_tile(name):
    tile = render_icon(name, 32, (0, 0, 0), (255, 255, 255), np.random.default_rng(0))
    ink = (tile.min(2) < 128)
    ys, xs = np.nonzero(ink)
    assert tile.shape == (32, 32, 3) and tile.dtype == np.uint8
    assert 0.03 < ink.mean() < 0.7  # a glyph, not an empty or flooded tile
    assert xs.min() > 0 and ys.min() > 0 and xs.max() < 31 and ys.max() < 31  # inside the tile


def test_classes_look_different_from_each_other():
    """Ink overlap (IoU) below 0.75 for every pair: a minus is part of a plus, not the same glyph."""
    ink = {n: render_icon(n, 48, (0, 0, 0), (255, 255, 255), np.random.default_rng(1)).min(2) < 128 for n in CLASSES}
    for a in CLASSES:
        for b in CLASSES:
            if a < b:
                assert (ink[a] & ink[b]).sum() < 0.75 * (ink[a] | ink[b]).sum(), (a, b)


def test_captions_name_their_class():
    images, captions = icon_pairs(0, 64, size=48)
    assert images.shape == (64, 48, 48, 3)
    for i, caption in enumerate(captions):
        cls = icon_sample(0, i, 48)[2]
        assert any(name in caption for name in ICONS[cls]), (caption, cls)


def test_toolbar_boxes_hold_their_icons_and_buttons_do_not_overlap():
    screen = toolbar_screen(5, 0)
    assert len(screen.boxes) == len(screen.classes) == len(set(screen.classes)) == 6
    boxes = screen.boxes + list(screen.buttons.values())
    for i, a in enumerate(boxes):
        tile = screen.image[a[1]:a[3], a[0]:a[2]].astype(np.int16)
        assert np.abs(tile - tile[0, 0]).max() > 60  # something drawn in it
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0]
