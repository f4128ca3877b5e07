"""The agent routes over real HTTP: an answer in screen pixels (JSON and multipart)."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
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


def _screen_body(screen: bytes) -> bytes:
    """A JSON body with a raw ``screen`` object (``1e309`` cannot be written by json.dumps)."""
    return b'{"screenshot": "' + b64(png(screen_with_button())).encode() + b'", "instruction": "click Submit", "screen": ' + screen + b"}"


@pytest.mark.parametrize("screen, field", [(b'{"width": 1e309, "height": 800}', "screen.width"), (b'{"width": 1280, "height": 1e-300}', "screen.height"),
                                           (b'{"dpr": 1e-9}', "screen.dpr"), (b'{"dpr": 1e309}', "screen.dpr"),
                                           (b'{"width": 1e6, "height": 800}', "screen.width"), (b'{"width": -5, "height": 800}', "screen.width")])
def test_screen_sizes_must_be_finite_and_sane(service, screen, field):
    r = httpx.post(service + "/v1/agent/act", headers={**AUTH, "content-type": "application/json"}, content=_screen_body(screen), timeout=60)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request" and field in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("data, status, code, message", [
    ({"instruction": "x" * 4001}, 422, "invalid_request", "instruction: String should have at most 4000 characters"),
    ({"instruction": "click Submit", "dpr": "1e-9"}, 422, "invalid_request", "dpr"),
    ({"instruction": "click Submit", "screen_width": "inf", "screen_height": "100"}, 422, "invalid_request", "screen_width"),
    ({"instruction": "click Submit", **{f"f{i}": "x" for i in range(20)}}, 413, "form_too_large", "Too many fields"),
    ({"instruction": "y" * 70_000}, 413, "form_too_large", "exceeded maximum size"),
    ({}, 422, "invalid_request", "instruction"),
])
def test_multipart_fields_are_limited(service, data, status, code, message):
    r = httpx.post(service + "/v1/agent/act/upload", headers=AUTH, timeout=60, files={"screenshot": ("s.png", png(screen_with_button()), "image/png")},
                   data=data)
    assert r.status_code == status and r.json()["error"]["code"] == code and message in r.json()["error"]["message"], r.text
    assert "x" * 100 not in r.text  # not echoed back


def test_multipart_with_two_files_is_refused(service):
    shot = ("s.png", png(screen_with_button()), "image/png")
    r = httpx.post(service + "/v1/agent/act/upload", headers=AUTH, timeout=60, files=[("screenshot", shot), ("other", shot)],
                   data={"instruction": "click Submit"})
    assert r.status_code == 413 and "Too many files" in r.json()["error"]["message"]


def test_history_screenshots_are_not_decoded_for_a_backend_that_does_not_use_them(service):
    """The local backend shows the model no history: a history screenshot that is not even an
    image costs nothing and is not an error."""
    r = httpx.post(service + "/v1/agent/act", headers=AUTH, timeout=60,
                   json={"screenshot": b64(png(screen_with_button())), "instruction": "click Submit",
                         "history": [{"screenshot": b64(b"not an image"), "response": "Action: wait()"}] * 3})
    assert r.status_code == 200 and r.json()["actions"][0]["type"] == "click", r.text


def test_the_pixels_of_a_whole_request_are_capped_before_any_decode():
    """Twelve PNGs each under the per-image cap (6300x6300 = 39.7 MP) but 476 MP together: 413
    before any is decoded (these headers carry no decodable pixels, so a decode would be a 400)
    and before the model endpoint is called (a dead one: that would be a 502)."""
    from sensorium.deploy.settings import ServiceSettings
    from sensorium.pipeline.agent.build import AgentSettings, build_gui_agent
    from tests.deploy.conftest import png_header, running

    agent = build_gui_agent(AgentSettings(backend="openai", openai_base_url="http://127.0.0.1:9/v1", openai_model="m", retries=0,
                                          history_images=12))
    big = b64(png_header(6300, 6300))
    body = {"screenshot": big, "instruction": "click OK", "history": [{"screenshot": big, "response": "Action: wait()"}] * 11}
    with running(ServiceSettings(), agent) as url:
        r = httpx.post(url + "/v1/agent/act", json=body, timeout=60)
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large", r.text
        assert "the limit is 60000000 pixels per request" in r.json()["error"]["message"]
        one = httpx.post(url + "/v1/agent/act", json={**body, "history": []}, timeout=60)
        assert one.status_code == 400 and one.json()["error"]["code"] == "bad_image"  # under the cap: decoded, and not an image


class _Gate:
    """A backend that answers only when released, counting its calls (the protocol's smallest
    implementation: ``name`` and ``complete``)."""

    name = "gate"

    def __init__(self) -> None:
        self.release, self.calls = threading.Event(), 0

    def complete(self, request):
        from sensorium.stages.results import CoordinateSpace

        self.calls += 1
        self.release.wait(60)
        return "Action: wait()", CoordinateSpace.PHYSICAL_PX


def _gauge(url: str, name: str) -> float:
    line = next((l for l in httpx.get(url + "/metrics", timeout=10).text.splitlines() if l.startswith(name + " ") or l.startswith(name + "{")), None)
    return float(line.rsplit(" ", 1)[1]) if line else 0.0


def _until(check, what: str, bound: float = 30.0) -> None:
    """Poll ``check`` until true; a bound against hanging, not a speed check."""
    deadline = time.monotonic() + bound
    while not check():
        assert time.monotonic() < deadline, f"not reached within {bound:.0f} s: {what}"
        time.sleep(0.05)


def test_a_request_whose_client_left_is_not_computed():
    """A waits in the agent; B queues behind it and its client hangs up; when A is done, B is
    cancelled, not computed (the backend is called once)."""
    from sensorium.deploy.settings import ServiceSettings
    from sensorium.stages.gui.stage import GuiAgentStage
    from tests.deploy.conftest import running

    gate = _Gate()
    body = json.dumps({"screenshot": b64(png(screen_with_button())), "instruction": "wait"}).encode()
    with running(ServiceSettings(), GuiAgentStage(backend=gate)) as url:
        first = threading.Thread(target=lambda: httpx.post(url + "/v1/agent/act", content=body, headers={"content-type": "application/json"}, timeout=90))
        first.start()
        _until(lambda: gate.calls == 1, "the first request in the backend")
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /v1/agent/act HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            _until(lambda: _gauge(url, "sensorium_http_requests_in_progress") >= 3, "A, B and this scrape in progress")
        assert httpx.get(url + "/healthz", timeout=10).status_code == 200  # served after B's hang-up was read
        gate.release.set()
        first.join(60)
        _until(lambda: _gauge(url, 'sensorium_http_errors_total{code="client_closed_request"}') == 1, "B cancelled")
    assert gate.calls == 1
