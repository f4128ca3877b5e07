"""Reading a screen: real PP-OCR through our sessions, at 1920x1080, the same every time."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensorium.stages.gui.local import LocalBackend
from sensorium.stages.gui.parse import parse_output
from sensorium.stages.gui.screen_ocr import ScreenReader


def _form() -> np.ndarray:
    """A 1920x1080 RGB form, top left, as a browser draws one: a title, three buttons."""
    img = np.full((1080, 1920, 3), 250, np.uint8)
    cv2.putText(img, "Create your account", (40, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (0, 0, 0), 3, cv2.LINE_AA)
    for x, label in ((40, "Save draft"), (240, "Submit"), (400, "Cancel")):
        w = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2)[0][0]
        cv2.rectangle(img, (x, 280), (x + w + 40, 326), (225, 230, 250), -1)
        cv2.rectangle(img, (x, 280), (x + w + 40, 326), (30, 30, 60), 2)
        cv2.putText(img, label, (x + 20, 310), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2, cv2.LINE_AA)
    return img


@pytest.fixture(scope="module")
def reader():
    r = ScreenReader()
    r.load()
    return r


def test_a_form_is_read_in_screen_pixels_and_timed(reader):
    timings: dict[str, float] = {}
    lines = {t.text: t.box for t in reader.read(_form(), timings)}
    assert {"Create your account", "Save draft", "Submit", "Cancel"} <= set(lines), lines
    x1, y1, x2, y2 = lines["Submit"]
    assert 255 <= (x1 + x2) / 2 <= 330 and 285 <= (y1 + y2) / 2 <= 320, lines["Submit"]  # on the button
    assert 230 <= x1 and x2 <= 370 and 270 <= y1 and y2 <= 340, lines["Submit"]  # not past its border
    assert set(timings) == {"det", "rec"}


def test_the_same_screen_reads_the_same_twice(reader):
    assert reader.read(_form(), {}) == reader.read(_form(), {})


def test_the_same_request_gives_the_same_action_twice():
    backend = LocalBackend(small_text=False)
    first = backend.ground("click Submit", _form())
    action = parse_output(first).actions[0]
    assert action.type == "click" and 240 <= action.points["start"].x <= 345, first
    assert backend.ground("click Submit", _form()) == first


@pytest.mark.parametrize("image", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 4), np.uint8), np.zeros((64, 64, 3), np.float32)])
def test_not_an_rgb_image_is_refused(reader, image):
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB"):
        reader.read(image, {})
