"""Planning the small-text pass: which tiles to re-read, and boxes back on the screen."""

from __future__ import annotations

import cv2
import numpy as np

from sensorium.stages.gui.ocr_text import TextBox
from sensorium.stages.gui.small_text import add_new, tiles_to_reread, to_screen, upscale


def _screen() -> np.ndarray:
    """A 540x960 white phone screen with tiny text low on the right (8 px glyphs) and a large
    title at the top."""
    img = np.full((960, 540, 3), 255, np.uint8)
    cv2.putText(img, "Settings", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 3)
    for i in range(6):
        cv2.putText(img, f"$1{i}.00", (420, 700 + 22 * i), cv2.FONT_HERSHEY_PLAIN, 0.8, (60, 60, 60), 1)
    return img


def test_the_tile_with_unread_detail_comes_first_and_read_text_is_explained():
    img = _screen()
    title = TextBox("Settings", (15.0, 25.0, 230.0, 70.0), 0.99)
    tiles = tiles_to_reread(img, [title], max_tiles=2)
    assert tiles and len(tiles) <= 2
    x1, y1, x2, y2 = tiles[0]
    assert x1 <= 420 and x2 >= 466 and y1 <= 690 and y2 >= 815, tiles  # all of the prices
    assert all(not (t[1] <= 40 <= t[3] and t[0] <= 100 <= t[2]) for t in tiles), "the read title is not re-read"


def test_a_blank_screen_has_nothing_to_reread():
    assert tiles_to_reread(np.full((960, 540, 3), 255, np.uint8), []) == []


def test_tile_boxes_map_back_to_the_screen():
    img = _screen()
    up = upscale(img, (270, 480, 540, 750), 2.0)
    assert up.shape == (540, 540, 3) and up.flags["C_CONTIGUOUS"]
    [back] = to_screen([TextBox("$10.00", (300.0, 400.0, 400.0, 430.0), 0.9)], (270, 480, 540, 750), 2.0)
    assert back.box == (420.0, 680.0, 470.0, 695.0)


def test_only_lines_the_first_pass_lacks_are_added():
    first = [TextBox("Settings", (10.0, 10.0, 200.0, 50.0), 0.9)]
    second = [TextBox("Settings", (12.0, 12.0, 198.0, 48.0), 0.95), TextBox("$10.00", (420.0, 680.0, 470.0, 695.0), 0.8)]
    assert [t.text for t in add_new(first, second)] == ["Settings", "$10.00"]
