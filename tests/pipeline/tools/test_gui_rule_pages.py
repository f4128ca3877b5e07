"""Rule pages: time pickers, app bars and composite labels, generated and grounded by the
conventions that tell look-alike icons apart (stages/gui/conventions.py, composite.py)."""

from __future__ import annotations

import pytest

from sensorium.pipeline.tools.gui_pages import render, web_page
from sensorium.pipeline.tools.gui_rule_pages import RULE_LAYOUTS, rule_page
from sensorium.pipeline.tools.gui_targets import evaluate, remembered_ocr


def test_a_rule_page_is_a_pure_function_of_seed_and_index_and_layouts_cycle():
    assert rule_page(0, 3) == rule_page(0, 3) and rule_page(0, 3) != rule_page(1, 3)
    assert [rule_page(0, i).layout for i in range(len(RULE_LAYOUTS))] == list(RULE_LAYOUTS)
    assert rule_page(0, 0).html != web_page(0, 0).html  # the general pages are not these


@pytest.fixture(scope="module")
def rule_results(browser, tmp_path_factory):
    """Three pages of split 0 (a three-column time picker, an app bar, a picker with an "Add
    alarm" + below it) asked of the local backend with the shipped icon model, one OCR pass
    per page."""
    from sensorium.pipeline.tools.gui_benchmark import icon_agent

    out = tmp_path_factory.mktemp("rules")
    targets = {(t.screen_id, t.text): t for i in (0, 1, 6) for t in render(browser, rule_page(0, i), out)}
    agent = icon_agent()
    asked = [targets[k] for k in (("rules-0-0", "Increase hour"), ("rules-0-0", "Increase minute"), ("rules-0-0", "Increase second"),
                                  ("rules-0-1", "Navigate up"), ("rules-0-1", "Bo Chen, Account"), ("rules-0-6", "Increase minute"))]
    with remembered_ocr(agent, {}):
        results = evaluate(agent, asked)
        # no app bar on the picker page: the framework's name alone clicks nothing there
        [nothing] = evaluate(agent, [targets[("rules-0-0", "Cancel")]], "click Navigate up")
    return {(r.target.screen_id, r.target.text): r for r in results}, nothing


@pytest.mark.parametrize("page, name, rule", [
    ("rules-0-0", "Increase hour", "order its label names"), ("rules-0-0", "Increase minute", "order its label names"),
    ("rules-0-0", "Increase second", "order its label names"), ("rules-0-1", "Navigate up", "app bar's left end"),
    ("rules-0-1", "Bo Chen, Account", "the part of"), ("rules-0-6", "Increase minute", "order its label names"),
])
def test_look_alikes_are_told_apart_by_the_convention_the_label_names(rule_results, page, name, rule):
    r = rule_results[0][(page, name)]
    assert r.outcome == "hit" and rule in r.thought, (r.outcome, r.point, r.target.boxes, r.thought)


def test_a_framework_name_with_no_app_bar_is_refused(rule_results):
    assert rule_results[1].outcome == "call_user", rule_results[1].thought
