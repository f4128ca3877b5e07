"""Targets and the ScreenSpot-style table."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from pathlib import Path

import numpy as np
import pytest

from sensorium.pipeline.tools.gui_targets import GuiTarget, Outcome, rates, remembered_ocr, table


def _t(platform="web", kind="icon", text="Back", boxes=((10, 10, 20, 20),)):
    return GuiTarget(platform, kind, "s1", Path("s1.png"), text, boxes)


@pytest.mark.parametrize("text, boxes, expectation", [
    ("Back", ((0, 0, 5, 5),), does_not_raise()),
    ("  ", ((0, 0, 5, 5),), pytest.raises(ValueError, match="expected a name and at least one box")),
    ("Back", (), pytest.raises(ValueError, match="at least one box")),
])
def test_a_target_needs_a_name_and_a_box(text, boxes, expectation):
    with expectation:
        _t(text=text, boxes=boxes)


def test_any_box_of_a_target_contains_a_hit():
    t = _t(boxes=((0, 0, 10, 10), (50, 50, 60, 60)))
    assert t.contains(5, 5) and t.contains(55, 60) and not t.contains(30, 30)


def test_table_reports_each_platform_and_kind_with_wrong_clicks_apart_from_refusals():
    results = [Outcome(_t("mobile", "icon"), "hit", (15, 15)), Outcome(_t("mobile", "icon"), "wrong_click", (90, 90)),
               Outcome(_t("web", "text"), "call_user", None), Outcome(_t("web", "text"), "hit", (12, 12))]
    assert rates(results) == {"n": 4.0, "hit": 0.5, "wrong_click": 0.25, "call_user": 0.25, "error": 0.0}
    rows = table(results).splitlines()
    assert rows[2] == "| mobile | icon | 2 | 50.0% | 50.0% | 0.0% | 0.0% |"
    assert rows[3] == "| web | text | 2 | 50.0% | 0.0% | 50.0% | 0.0% |"
    assert rows[4].startswith("| all | all | 4 | 50.0% | 25.0% | 25.0% |")
    assert rates([]) == {"n": 0.0}


def test_remembered_ocr_reads_each_image_once_and_restores_the_reader():
    import cv2

    from sensorium.stages.gui.local import LocalBackend

    backend = LocalBackend()
    real = backend.reader
    img = np.full((60, 240, 3), 255, np.uint8)
    cv2.putText(img, "Submit", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    memo: dict = {}
    with remembered_ocr(backend, memo):
        first, again = {}, {}
        lines = backend.reader.read(img, first)
        assert backend.reader.read(img.copy(), again) == lines and "det" in first and again == {}  # the repeat is not read
        assert backend.reader.read(255 - img, {}) != lines  # another image is read for itself
    assert backend.reader is real and len(memo) == 2
    assert any("Submit" in t.text for t in lines)
