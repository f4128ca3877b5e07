"""Icon grounding through the REST endpoint over real HTTP with the local backend and the
shipped icon model: a generated toolbar screenshot at device pixel ratio 2 (the answer in
logical screen pixels inside the named icon's button), and a toolbar page of SVG icons in
headless chromium, the returned click executed by Playwright and checked in the DOM."""

from __future__ import annotations

import base64

import cv2
import httpx
import pytest

from sensorium.deploy.settings import ServiceSettings
from sensorium.models.data.icons import toolbar_screen
from sensorium.pipeline.agent.build import AgentSettings, build_gui_agent
from sensorium.stages.gui.icons import IconConfig

from tests.deploy.conftest import running
from tests.e2e.test_browser import run_task

AUTH = {"Authorization": "Bearer s3cret-token"}


@pytest.fixture(scope="module")
def icon_service():
    agent = build_gui_agent(AgentSettings(icons=IconConfig(weights="clip_icons")))
    with running(ServiceSettings(token="s3cret-token"), agent) as url:
        yield url


@pytest.mark.slow
@pytest.mark.parametrize("instruction, cls", [("click the gear icon", "gear"), ("click the trash can", "trash")])
def test_icon_click_over_rest_lands_in_the_icon_in_screen_pixels(icon_service, instruction, cls):
    screen = toolbar_screen(350, 0, classes=("home", "gear", "heart", "trash", "bell", "user"), width=1280, height=720, sizes=(40, 56))
    png = cv2.imencode(".png", screen.image[..., ::-1])[1].tobytes()
    r = httpx.post(icon_service + "/v1/agent/act", headers=AUTH, timeout=120,
                   json={"screenshot": base64.b64encode(png).decode(), "instruction": instruction, "screen": {"dpr": 2}})
    assert r.status_code == 200, r.text
    (action,) = r.json()["actions"]
    x1, y1, x2, y2 = (v / 2 for v in screen.boxes[screen.classes.index(cls)])  # logical pixels at DPR 2
    assert action["type"] == "click" and x1 <= action["x"] <= x2 and y1 <= action["y"] <= y2, r.json()


ICON_TASKS = [  # (instruction, the button's name); the page's icons are SVGs the model never saw
    ("click the gear icon", "gear"),
    ("click the search icon", "search"),
    ("tap the heart", "heart"),
    ("click the envelope icon", "mail"),
    ("click Save", "Save"),
]


@pytest.mark.slow
@pytest.mark.parametrize("instruction, name", ICON_TASKS, ids=[t[0] for t in ICON_TASKS])
def test_icon_toolbar_in_a_real_browser(browser, icon_service, instruction, name):
    ok, steps = run_task(browser, icon_service, "icons.html", 1, instruction, f"document.body.dataset.clicked === '{name}'", max_steps=1)
    assert ok, f"{instruction!r} not done"


@pytest.mark.slow
def test_agent_act_cli_grounds_icons_by_default_and_not_with_none(tmp_path):
    """``sensorium agent act`` uses the shipped icon model unless told ``--icon-weights none``,
    in which case the same instruction is call_user with the reason."""
    import json
    import subprocess

    from tests.deploy.conftest import CLI

    screen = toolbar_screen(351, 0, classes=("home", "gear", "heart", "trash", "bell", "user"), width=1280, height=720, sizes=(40, 56))
    shot = tmp_path / "toolbar.png"
    shot.write_bytes(cv2.imencode(".png", screen.image[..., ::-1])[1].tobytes())
    base = CLI + ["agent", "act", "--screenshot", str(shot), "-i", "click the heart icon"]
    out = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (action,) = json.loads(out.stdout)["actions"]
    x1, y1, x2, y2 = screen.boxes[screen.classes.index("heart")]
    assert action["type"] == "click" and x1 <= action["x"] <= x2 and y1 <= action["y"] <= y2, out.stdout
    off = subprocess.run(base + ["--icon-weights", "none"], capture_output=True, text=True, timeout=300)
    assert off.returncode == 0, off.stderr
    answer = json.loads(off.stdout)
    assert [a["type"] for a in answer["actions"]] == ["call_user"] and "icon grounding needs embed weights" in answer["thought"]
