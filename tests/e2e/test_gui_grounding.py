"""Grounding accuracy of the local backend on real Android screenshots (Rico), through
``benchmarks/gui_grounding.py`` (the full run and its numbers are in docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from PIL import Image

from sensorium.pipeline.tools.gui_targets import evaluate, rates, remembered_ocr
from sensorium.pipeline.tools.rico_targets import gui_targets

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "gui_grounding.py"


def _bench():
    if "gui_grounding" not in sys.modules:  # its dataclasses look their module up there
        spec = importlib.util.spec_from_file_location("gui_grounding", BENCH)
        sys.modules["gui_grounding"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["gui_grounding"])
    return sys.modules["gui_grounding"]


@pytest.fixture(scope="module")
def rico_ocr() -> dict:
    """OCR lines by image, shared by the text and the icon floors: each Rico screen (and each
    tile its small-text pass re-reads) is read once, however many targets are asked of it."""
    return {}


@pytest.fixture(scope="module")
def rico_text_results(data_dir, local_agent, rico_ocr):
    """Every scored text target of the shared Rico set (69 on 28 screens), asked once."""
    bench = _bench()
    items = bench.targets(data_dir / "gui", "text")
    assert len(items) >= 60
    with remembered_ocr(local_agent, rico_ocr):
        return bench.evaluate(local_agent, items, diagnose=False)


@pytest.fixture(scope="module")
def rico_icon_results(data_dir, rico_ocr):
    """Every scored icon target (42 on 23 screens) with the shipped icon model, as ``sensorium
    agent act`` builds it."""
    from sensorium.pipeline.tools.gui_benchmark import icon_agent

    agent = icon_agent()
    items = gui_targets(data_dir / "gui", "icon")
    assert len(items) >= 40
    with remembered_ocr(agent, rico_ocr):
        return evaluate(agent, items)


def _misses(results) -> list:
    return [(r.target.screen_id, r.target.text, r.outcome, r.point) for r in results if r.outcome != "hit"]


@pytest.mark.slow
def test_text_targets_are_grounded_at_least_90_percent(rico_text_results):
    hits = sum(r.outcome == "hit" for r in rico_text_results)
    assert hits / len(rico_text_results) >= 0.90, _misses(rico_text_results)


@pytest.mark.slow
def test_wrong_clicks_stay_under_3_percent_of_targets(rico_text_results):
    """Where the backend is unsure it answers call_user: a click on another element is the costly miss."""
    wrong = sum(r.outcome == "wrong_click" for r in rico_text_results)
    assert wrong / len(rico_text_results) <= 0.03, _misses(rico_text_results)


@pytest.mark.slow
def test_icon_targets_hold_their_measured_floor_and_refuse_names_no_model_has(rico_icon_results):
    """Measured 2026-12-03 19:48 UTC (docs/benchmarks.md, H39): 26 of 42 hits, 1 wrong click, 15
    call_user, 12 of them names no icon model can have from the name ("Page info", "Shop",
    camera modes). The status-bar glyph is never clicked for "Navigate up" (#17's H34 round);
    the time picker's four steppers on 33625 are told apart by the unit their labels name."""
    r = rates(rico_icon_results)
    assert r["hit"] >= 26 / 42 and r["wrong_click"] <= 1 / 42, _icon_misses(rico_icon_results)
    # Android's status bar is 24 dp of a 360 dp wide screen: no click lands in it
    in_bar = [(o.target.screen_id, o.target.text, o.point) for o in rico_icon_results
              if o.point is not None and o.point[1] < 24 / 360 * Image.open(o.target.image).size[0]]
    assert not in_bar, in_bar
    for name in ("Page info", "Page manager", "Shop", "Shutter"):
        assert all(o.outcome == "call_user" and "icon model knows only" in o.thought
                   for o in rico_icon_results if o.target.text == name), name
    steppers = [o for o in rico_icon_results if o.target.screen_id == "33625" and o.target.text.startswith(("Increase", "Decrease"))]
    assert len(steppers) == 4 and all(o.outcome == "hit" and "order its label names" in o.thought for o in steppers), \
        _icon_misses(steppers)


@pytest.mark.slow
def test_icon_targets_reach_the_goal(rico_icon_results):
    """The issue's must-hold on every scored Rico icon target: success >= 0.60, wrong clicks <= 3 %
    (measured 26/42 = 0.619 and 1/42 = 2.4 %, H39)."""
    r = rates(rico_icon_results)
    assert r["hit"] >= 0.60 and r["wrong_click"] <= 0.03, _icon_misses(rico_icon_results)


def _icon_misses(results) -> list:
    return [(r.target.screen_id, r.target.text, r.outcome, r.thought.splitlines()[0]) for r in results if r.outcome != "hit"]


def test_outcomes_and_miss_causes(data_dir):
    """A refusal is not a wrong click, and a stale target's miss is put down to the hierarchy."""
    bench = _bench()
    [stale] = [t for t in bench.targets(data_dir / "gui", stale=True) if t.stale and t.text == "10"]
    r = bench.Result(stale, "wrong_click", (1.0, 1.0))
    assert bench.miss_cause(None, None, r) == "hierarchy stale"
    assert set(bench.OUTCOMES) == {"hit", "wrong_click", "call_user", "error"}
