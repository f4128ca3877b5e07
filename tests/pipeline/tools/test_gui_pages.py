"""Generated web pages: reproducible, every layout present, and DOM boxes that match the
screenshots Chromium takes of them (at DPR 1, 1.5, 2 and 3)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from rapidfuzz import fuzz

from sensorium.pipeline.tools.gui_pages import LAYOUTS, TEXTS, render, web_page
from sensorium.pipeline.tools.gui_targets import evaluate, rates, remembered_ocr
from sensorium.pipeline.tools.web_icons import WEB_ICONS


def test_a_page_is_a_pure_function_of_seed_and_index_and_layouts_cycle():
    assert web_page(0, 3) == web_page(0, 3) and web_page(0, 3) != web_page(1, 3)
    assert [web_page(0, i).layout for i in range(len(LAYOUTS))] == list(LAYOUTS)


def test_no_name_is_both_a_text_and_an_icon():
    texts = {t.lower() for names in TEXTS.values() for t in names}
    assert not texts & {i.lower() for i in WEB_ICONS}


@pytest.fixture(scope="module")
def rendered(browser, tmp_path_factory):
    """Ten pages (two of each layout), their targets and screenshots."""
    import cv2

    out = tmp_path_factory.mktemp("pages")
    pages = [web_page(5, i) for i in range(10)]
    targets = [t for p in pages for t in render(browser, p, out)]
    shots = {p.name: cv2.cvtColor(cv2.imread(str(out / f"{p.name}.png")), cv2.COLOR_BGR2RGB) for p in pages}
    return pages, targets, shots


def test_screenshots_are_the_viewport_times_the_dpr_and_targets_lie_inside(rendered):
    pages, targets, shots = rendered
    assert {p.dpr for p in pages} >= {1.0, 2.0} and {p.theme for p in pages} == {"light", "dark"}
    for p in pages:
        h, w = shots[p.name].shape[:2]
        assert (w, h) == (round(p.width * p.dpr), round(p.height * p.dpr)), p.name
        for t in targets:
            if t.screen_id == p.name:
                x1, y1, x2, y2 = t.boxes[0]
                assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    kinds = Counter(t.kind for t in targets)
    assert kinds["text"] >= 20 and kinds["icon"] >= 20
    assert len({(t.screen_id, t.text) for t in targets}) == len(targets)  # one element per name on a page


def test_every_icon_box_holds_a_glyph(rendered):
    _, targets, shots = rendered
    for t in targets:
        if t.kind == "icon":
            x1, y1, x2, y2 = (int(round(v)) for v in t.boxes[0])
            crop = shots[t.screen_id][y1:y2, x1:x2].astype(np.int16)
            ink = np.abs(crop - np.median(crop, axis=(0, 1))).max(2) > 40  # pixels off the button's background
            assert 0.01 < ink.mean() < 0.6, (t.screen_id, t.text, ink.mean())


def test_ocr_reads_each_text_target_inside_its_dom_box(rendered, local_agent):
    """The DOM box is where the screenshot shows the text: OCR's line for the name lies in it."""
    _, targets, shots = rendered
    backend = local_agent.backend
    found = 0
    texts = [t for t in targets if t.kind == "text"]
    lines = {name: backend.read_text(img) for name, img in shots.items()}
    for t in texts:
        best = max(lines[t.screen_id], key=lambda ln: fuzz.ratio(ln.text.lower(), t.text.lower()))  # INV-1043, not INV-1042
        if fuzz.ratio(best.text.lower(), t.text.lower()) < 80:
            continue  # OCR missed it: the grounding benchmark counts that, this test checks boxes
        found += 1
        cx, cy = (best.box[0] + best.box[2]) / 2, (best.box[1] + best.box[3]) / 2
        assert t.contains(cx, cy), (t.screen_id, t.text, t.boxes, best.box)
    assert found >= 0.8 * len(texts)


@pytest.mark.slow
def test_the_local_backend_grounds_web_pages(browser, tmp_path):
    """Every text and icon target of the six pages measured in docs/benchmarks.md (seed 0),
    held to #17's goals: text >= 0.90 and icons >= 0.60 (measured 28/29 and 23/29), wrong
    clicks <= 3 % of all targets (measured 1 of 58)."""
    from sensorium.pipeline.tools.gui_benchmark import icon_agent

    targets = [t for i in range(6) for t in render(browser, web_page(0, i), tmp_path)]
    agent = icon_agent()
    with remembered_ocr(agent, {}):  # one OCR pass per page, however many targets it holds
        results = evaluate(agent, targets)
    misses = [(o.target.screen_id, o.target.text, o.outcome) for o in results if o.outcome != "hit"]
    for kind, goal in (("text", 0.90), ("icon", 0.60)):
        assert rates([r for r in results if r.target.kind == kind])["hit"] >= goal, (kind, misses)
    assert rates(results)["wrong_click"] <= 0.03, misses
