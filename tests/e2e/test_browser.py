"""End to end in headless Chromium (Debian's ``chromium``, driven by Playwright): local pages
are screenshotted, the REST endpoint answers over real HTTP with the local backend, the
actions run through :class:`PlaywrightExecutor`, and the page's DOM shows the instruction done."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from sensorium.pipeline.agent.executors import PlaywrightExecutor, playwright_key
from sensorium.stages.results import GuiAction
from tests.deploy.conftest import AUTH

PAGES = Path(__file__).parent / "pages"

#: (page, device scale factor, instruction, JS expression that is true once it is done)
TASKS = [
    ("form.html", 1, "type Ada Lovelace into Full name", "document.querySelector('#name').value === 'Ada Lovelace'"),
    ("form.html", 1, "fill Email with ada@example.org", "document.querySelector('#email').value === 'ada@example.org'"),
    ("form.html", 1, "type Paris into the City field and press enter", "document.querySelector('#city').value === 'Paris'"),
    ("form.html", 1, "click Submit", "document.body.dataset.submitted === 'yes' && !document.body.dataset.cancelled"),
    ("form.html", 1, "click the Save draft button", "document.body.dataset.saved === 'yes' && !document.body.dataset.submitted"),
    ("long.html", 1, "scroll to Pricing", "(r => r.top >= 0 && r.bottom <= innerHeight)(document.querySelector('#pricing h2').getBoundingClientRect())"),
    ("hidpi.html", 2, "click Charlie", "document.body.dataset.clicked === 'Charlie'"),
    ("hidpi.html", 2, "click Hotel", "document.body.dataset.clicked === 'Hotel'"),
]


def run_task(browser, service: str, page_name: str, scale: int, instruction: str, done_js: str, max_steps: int = 8) -> tuple[bool, int]:
    """Screenshot → /v1/agent/act → execute, until the task is done, the agent finishes or gives up."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=scale)
    page = ctx.new_page()
    page.goto((PAGES / page_name).as_uri())
    ex = PlaywrightExecutor(page)
    try:
        for step in range(1, max_steps + 1):
            shot = base64.b64encode(page.screenshot()).decode()
            r = httpx.post(service + "/v1/agent/act", headers=AUTH, timeout=120,
                           json={"screenshot": shot, "instruction": instruction, "screen": {"width": 1280, "height": 800}})
            assert r.status_code == 200, r.text
            actions = [GuiAction(a["type"], x=a["x"], y=a["y"], x2=a["x2"], y2=a["y2"], params=a["params"]) for a in r.json()["actions"]]
            end = ex.run(actions)
            if page.evaluate(done_js):
                return True, step
            if end is not None:
                return False, step
        return False, max_steps
    finally:
        ctx.close()


@pytest.mark.slow
@pytest.mark.parametrize("page_name, scale, instruction, done_js", TASKS, ids=[t[2] for t in TASKS])
def test_task_in_a_real_browser(browser, service, page_name, scale, instruction, done_js):
    ok, steps = run_task(browser, service, page_name, scale, instruction, done_js)
    assert ok, f"{instruction!r} on {page_name} not done after {steps} step(s)"


def test_screenshots_at_dpr_2_are_twice_the_viewport(browser):
    ctx = browser.new_context(viewport={"width": 640, "height": 400}, device_scale_factor=2)
    page = ctx.new_page()
    page.goto((PAGES / "hidpi.html").as_uri())
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(page.screenshot(), np.uint8), cv2.IMREAD_COLOR)
    ctx.close()
    assert img.shape[:2] == (800, 1280)


@pytest.mark.parametrize("key, expected", [("ctrl c", "Control+c"), ("ctrl shift t", "Control+Shift+t"), ("enter", "Enter"), ("f5", "F5")])
def test_hotkeys_map_to_playwright(key, expected):
    assert playwright_key(key) == expected
