"""report.html from a real run of the bundled sample (the ``sample_run`` fixture of
tests/pipeline/conftest.py), opened in headless Chromium offline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sensorium.pipeline.report import RunRecorder, write_report


@pytest.mark.slow
def test_report_renders_offline_with_plots_and_contact_sheet(sample_run, browser):
    page_url = (sample_run / "report.html").resolve().as_uri()
    requested = []

    def only_the_file(route):
        requested.append(route.request.url)
        route.continue_() if route.request.url == page_url else route.abort()

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.route("**/*", only_the_file)
    page.goto(page_url)
    page.wait_for_load_state("load")
    assert requested == [page_url]  # no font, script, style or image fetched from anywhere

    plots = page.eval_on_selector_all("[data-plot]", "els => els.map(e => [e.dataset.plot, e.querySelector('svg').getBoundingClientRect().width])")
    assert {name for name, _ in plots} == {"latency", "throughput", "timeline", "depth", "scores"}
    assert all(width > 150 for _, width in plots)
    assert page.locator("[data-plot=latency] svg text", has_text="face").count() == 1  # one histogram per stage
    sheet = page.eval_on_selector_all("[data-contact-sheet] figure", "els => els.map(e => [e.dataset.why, e.querySelector('img').naturalWidth])")
    whys = [why for why, _ in sheet]
    assert sum("first" in w for w in whys) == 2 and any("slowest" in w for w in whys)  # one first frame per source
    assert all(width > 100 for _, width in sheet)  # every thumbnail decoded
    rows = page.eval_on_selector_all("[data-table=sources] tr", "els => els.slice(1).map(e => [...e.children].map(c => c.textContent))")
    assert [(r[0], r[1]) for r in rows] == [("sample", "8"), ("sample-rgbd", "8")]

    shot = page.screenshot(full_page=True)
    page.close()
    import cv2

    pixels = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
    assert pixels.shape[0] > 1500 and pixels.std() > 20  # not a blank page


def test_summary_json_counts_what_collection_cost(sample_run):
    summary = json.loads((sample_run / "summary.json").read_text())
    assert [s["sink"] for s in summary["sinks"].values()] == ["jsonl", "rerun"]  # the report is not one of --sinks
    assert summary["report"]["frames"] == 16 and 0 <= summary["report"]["collect_ms_per_frame"] < 50


def test_a_report_of_no_frames_says_so(tmp_path):
    path = write_report(tmp_path, RunRecorder(), {"images": 0, "written": 0, "failed": 0})
    text = path.read_text()
    assert "<svg" not in text and "No frames." in text and "<td>images</td><td>0</td>" in text
