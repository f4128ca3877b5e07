"""The screen OCR engine's own parts: where detection looks, and recognition that does not
depend on a line's batch neighbours (real PP-OCR models from the rapidocr wheel)."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import cv2
import numpy as np
import pytest

from sensorium.stages.gui.ocr_engine import OcrConfig, OcrEngine, content_bands


def _line(text: str, scale: float = 1.2) -> np.ndarray:
    """A BGR line crop: dark text on a light grey background, 8 px margins."""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    img = np.full((h + base + 16, w + 16, 3), 245, np.uint8)
    cv2.putText(img, text, (8, 8 + h), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 2, cv2.LINE_AA)
    return img


@pytest.fixture(scope="module")
def engine():
    return OcrEngine(OcrConfig())


def test_a_flat_screen_has_no_content_band():
    assert content_bands(np.full((448, 800, 3), 250, np.uint8), 16, 12) == []


def test_bands_hold_the_content_on_the_detector_stride():
    small = np.full((448, 800, 3), 250, np.uint8)
    small[40:60, 100:300] = 0  # a title
    small[300:320, 500:700] = 0  # a button far below
    bands = content_bands(small, 16, 12)
    assert len(bands) == 2, bands
    for (x1, y1, x2, y2), (cx1, cy1, cx2, cy2) in zip(bands, [(100, 40, 300, 60), (500, 300, 700, 320)]):
        assert x1 <= cx1 - 16 and y1 <= cy1 - 16 and x2 >= cx2 + 16 and y2 >= cy2 + 16
        assert (x2 - x1) % 32 == 0 and (y2 - y1) % 32 == 0 and 0 <= x1 < x2 <= 800 and 0 <= y1 < y2 <= 448
        assert (x2 - x1) * (y2 - y1) < 0.1 * 800 * 448  # background is skipped


def test_a_line_reads_the_same_alone_and_among_other_lines(engine):
    crops = [_line("Submit"), _line("Create your account"), _line("Cancel"), _line("Submit now")]
    together = engine.recognise(crops)
    alone = [engine.recognise([c])[0] for c in crops]
    assert [t for t, _ in together] == [t for t, _ in alone]
    assert together[0][0] == "Submit" and together[2][0] == "Cancel", together
    assert np.allclose([s for _, s in together], [s for _, s in alone], atol=1e-4)


def test_detection_finds_lines_in_screen_pixels(engine):
    screen = np.full((1080, 1920, 3), 250, np.uint8)
    line = _line("Submit", 1.5)
    screen[700:700 + line.shape[0], 1500:1500 + line.shape[1]] = line
    quads = engine.detect(screen)
    assert len(quads) == 1, quads
    q = quads[0]
    h, w = line.shape[:2]  # the glyphs lie 8 px inside the crop; the box holds them, not much more
    assert 1485 <= q[:, 0].min() <= 1510 and 1500 + w - 10 <= q[:, 0].max() <= 1515 + w, q
    assert 685 <= q[:, 1].min() <= 710 and 700 + h - 10 <= q[:, 1].max() <= 715 + h, q


@pytest.mark.parametrize("kwargs, expect", [
    ({}, does_not_raise()),
    ({"max_side": 16}, pytest.raises(ValueError, match="max_side")),
    ({"threads": 0}, pytest.raises(ValueError, match="threads")),
    ({"rec_step": 4}, pytest.raises(ValueError, match="rec_step")),
])
def test_config_is_checked(kwargs, expect):
    with expect:
        OcrConfig(**kwargs)
