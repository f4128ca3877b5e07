"""The agent routes over real HTTP: an answer in screen pixels (JSON and multipart)."""

from __future__ import annotations

import httpx

from tests.deploy.conftest import AUTH, b64, png, screen_with_button


def test_act_returns_a_click_in_screen_pixels(service):
    img = screen_with_button()
    r = httpx.post(service + "/v1/agent/act", headers=AUTH, timeout=60,
                   json={"screenshot": b64(png(img)), "instruction": "click Submit", "screen": {"dpr": 2}})
    assert r.status_code == 200, r.text
    body = r.json()
    (a,) = body["actions"]
    assert a["type"] == "click" and body["space"] == "physical_px" and body["backend"] == "local"
    assert 100 <= a["x"] <= 180 and 100 <= a["y"] <= 125  # the button's centre (280, 225) at DPR 2
    assert r.headers["x-request-id"] == body["request_id"]


def test_multipart_upload(service):
    r = httpx.post(service + "/v1/agent/act/upload", headers=AUTH, timeout=60, files={"screenshot": ("s.png", png(screen_with_button()), "image/png")},
                   data={"instruction": "click Submit"})
    assert r.status_code == 200, r.text
    assert r.json()["actions"][0]["type"] == "click"


def test_an_ungroundable_instruction_is_call_user_with_a_reason(service):
    img = screen_with_button()
    r = httpx.post(service + "/v1/agent/act", headers=AUTH, timeout=60,
                   json={"screenshot": b64(png(img)), "instruction": "click the unicorn"})
    assert r.status_code == 200 and r.json()["actions"][0]["type"] == "call_user" and "unicorn" in r.json()["thought"]
