"""Targets and the ScreenSpot-style table."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from pathlib import Path

import pytest

from sensorium.pipeline.tools.gui_targets import GuiTarget, Outcome, rates, table


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
