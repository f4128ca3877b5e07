"""Where no app element can be: the phone's status bar, photos, the middle of a text-entry box
(constructed screens, no model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensorium.stages.gui.icons import icon_candidates
from sensorium.stages.gui.local import element_boxes
from sensorium.stages.gui.non_targets import entry_boxes, in_entry_middle, on_plain_surface, outside_status_bar, status_bar


def _arrow(img: np.ndarray, x: int, y: int, side: int, colour) -> None:
    """A back arrow (shaft and head) of ``side`` px at (x, y), strokes a tenth of its side."""
    t = max(2, side // 8)
    cv2.line(img, (x + t, y + side // 2), (x + side, y + side // 2), colour, t)
    cv2.line(img, (x + t, y + side // 2), (x + side // 2, y + t), colour, t)
    cv2.line(img, (x + t, y + side // 2), (x + side // 2, y + side - t), colour, t)


def _phone(width: int = 540, bar=(0, 0, 0), app=(33, 150, 243)) -> np.ndarray:
    """A portrait screen: a status bar (a back-arrow-like notification glyph at the left; wifi,
    battery and a clock's digits at the right), an app bar with its own back arrow, white page."""
    w, h = width, int(width * 16 / 9)
    img = np.full((h, w, 3), 255, np.uint8)
    s = w / 360  # px per dp
    img[: int(24 * s)] = bar
    img[int(24 * s): int(80 * s)] = app
    g, top = int(14 * s), int(5 * s)
    _arrow(img, int(8 * s), top, g, (255, 255, 255))
    for i, x in enumerate(range(int(250 * s), int(350 * s), int(16 * s))):  # wifi, battery, "12:30"
        cv2.rectangle(img, (x, top + (i % 2)), (x + int(9 * s), top + g), (255, 255, 255), -1 if i < 2 else 2)
    _arrow(img, int(16 * s), int(40 * s), int(24 * s), (255, 255, 255))
    return img


@pytest.mark.parametrize("width", [540, 1080])
def test_the_status_bar_is_found_and_its_back_arrow_glyph_is_no_candidate(width):
    img = _phone(width)
    bottom = status_bar(img)
    s = width / 360
    assert 20 * s <= bottom <= 26 * s, bottom  # the glyph row's end plus its distance from the top
    glyph = (int(8 * s), int(5 * s), int(22 * s), int(19 * s))  # the status bar's back-arrow-like glyph
    assert outside_status_bar([glyph], bottom) == []
    kept = [g[0] for g in icon_candidates(img, [], element_boxes(img))]
    assert not any(b[1] < 20 * s for b in kept), kept
    assert any(b[1] >= 30 * s and b[3] <= 80 * s and b[0] < 60 * s for b in kept)  # the app's own back arrow stays


def test_a_status_bar_in_the_app_bar_colour_is_found_too():
    assert status_bar(_phone(540, bar=(33, 150, 243))) > 0


@pytest.mark.parametrize("make, why", [
    (lambda: cv2.resize(_phone(540), (960, 540)), "landscape: a web page or a desktop"),
    (lambda: np.full((960, 540, 3), 255, np.uint8), "nothing at the top"),
    (lambda: _with_title(_phone(540)), "a toolbar with a title across it is the app's, not the system's"),
])
def test_no_status_bar_on_screens_without_one(make, why):
    assert status_bar(make()) == 0, why


def _with_title(img: np.ndarray) -> np.ndarray:
    img[8:20, 60:260] = 255  # a title bar across the top row
    return img


def test_a_low_contrast_minus_on_a_stepper_button_is_a_candidate():
    """A stepper's minus in grey on a light grey button: a lone bar, not square, still a glyph."""
    img = np.full((400, 400, 3), 60, np.uint8)
    img[100:300, 80:320] = 215  # the button, too large to be an icon candidate itself
    img[195:205, 176:224] = 150  # the minus: 48 x 10 px, 65 grey levels below the button
    boxes = [g[0] for g in icon_candidates(img, [], element_boxes(img))]
    assert any(170 <= b[0] <= 180 and 218 <= b[2] <= 230 and 190 <= b[1] <= 200 for b in boxes), boxes


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random colour texture: a stand-in surface with a photo's many colours."""
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)


def test_an_icon_on_a_plain_surface_is_kept_and_an_arrow_in_a_photo_is_not():
    img = np.full((200, 300, 3), 245, np.uint8)
    img[:60] = (25, 118, 210)  # a bar the button fills: the ring crosses into the page
    _arrow(img, 10, 10, 40, (255, 255, 255))
    assert on_plain_surface(img, (10, 10, 50, 50))
    assert on_plain_surface(img, (100, 100, 124, 124))  # on the page
    photo = _photo(200, 300)
    _arrow(photo, 130, 80, 40, (255, 255, 255))
    assert not on_plain_surface(photo, (130, 80, 170, 120))


@pytest.mark.parametrize("box, inside", [
    ((300, 110, 303, 130), True),  # the caret between the letters
    ((120, 108, 150, 132), True),  # a letter OCR did not read as a word
    ((62, 106, 90, 134), False),  # the magnifier at the field's left end
    ((712, 106, 740, 134), False),  # the clear button at its right end
])
def test_only_the_middle_of_a_text_entry_box_is_its_text(box, inside):
    field = (50, 100, 750, 140)
    words = [(100, 108, 290, 132)]
    assert in_entry_middle(box, entry_boxes([field], words)) is inside
    assert entry_boxes([field], []) == []  # no text in it: a bar, not a text field
