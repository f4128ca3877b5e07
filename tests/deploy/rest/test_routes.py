"""The routes over real HTTP: an answer in screen pixels (JSON and multipart), the bearer token, health and metrics."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

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


@pytest.mark.parametrize("headers, message", [({}, "missing bearer token"), ({"Authorization": "Bearer nope"}, "wrong bearer token"),
                                              ({"Authorization": "Basic czNjcmV0"}, "missing bearer token")])
def test_auth(service, headers, message):
    r = httpx.post(service + "/v1/agent/act", headers=headers, json={"screenshot": b64(png(screen_with_button())), "instruction": "click Submit"})
    assert r.status_code == 401 and message in r.json()["error"]["message"] and r.headers["www-authenticate"] == "Bearer"


def test_metrics_and_openapi(service):
    httpx.get(service + "/healthz", timeout=5)
    text = httpx.get(service + "/metrics", timeout=5).text
    assert 'sensorium_http_requests_total{path="/healthz",status="200"}' in text  # labelled by route, not by raw URL
    spec = httpx.get(service + "/openapi.json").json()
    assert "/v1/agent/act" in spec["paths"] and "ActRequest" in spec["components"]["schemas"]
