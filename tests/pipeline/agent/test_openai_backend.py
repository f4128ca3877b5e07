"""The OpenAI-compatible backend against a local OpenAI-compatible HTTP server that replays
UI-TARS outputs in each documented format.

This is a protocol test: the server is not a model. It checks what goes over the wire (the
chat request: prompt, screenshots, temperature 0), what comes back (each output format,
parsed and converted to screen pixels for the version's coordinate space), retries on 5xx,
and that malformed model text becomes a clear error, both in the stage and through the REST
service as a 422 carrying the raw text.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import httpx
import numpy as np
import pytest

from sensorium.pipeline.agent.build import AgentSettings, build_gui_agent
from sensorium.pipeline.agent.openai_backend import BackendError, OpenAIBackend
from sensorium.stages.gui.protocol import AgentError, AgentRequest
from sensorium.stages.gui.coords import Screen, smart_resize


class Replay:
    """Serves /v1/chat/completions: pops the next (status, text) and records each request."""

    def __init__(self) -> None:
        self.queue: list[tuple[int, str]] = []
        self.requests: list[dict] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                replay.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                status, text = replay.queue.pop(0)
                out = json.dumps({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]} if status == 200 else {"error": text}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def replay():
    r = Replay()
    yield r
    r.server.shutdown()


IMG = np.zeros((1080, 1920, 3), np.uint8)  # a 1920x1080 screenshot (device pixels)


def _step(replay, text, version="1.5", screen=None, history=()):
    replay.queue.append((200, text))
    agent = build_gui_agent(AgentSettings(backend="openai", openai_base_url=replay.url, openai_model="ui-tars", uitars_version=version, retries=0))
    return agent.act(IMG, "open the File menu", screen or Screen(1920, 1080), history)


@pytest.mark.parametrize("version, text, expected", [
    ("1.0", "Thought: File is top left.\nAction: click(start_box='<|box_start|>(500,500)<|box_end|>')", (960.0, 540.0)),
    ("1.0", "Thought: ok\nAction: click(start_box='(100,200,300,400)')", (0.2 * 1920, 0.3 * 1080)),
    ("1.5", "Thought: File.\nAction: click(point='<point>1918 1078</point>')", None),
    ("1.5", "Thought：File.\nAction：left_single(start_box='<bbox>100 100 200 200</bbox>')[EOS]", None),
])
def test_each_format_lands_on_the_right_screen_pixel(replay, version, text, expected):
    step = _step(replay, text, version)
    (a,) = step.actions
    if expected is None:  # 1.5: absolute pixels of the smart-resized image
        rh, rw = smart_resize(1080, 1920)
        p = step.raw.split("<point>")[1].split("</point>")[0].split() if "<point>" in text else [150, 150]
        expected = (float(p[0]) * 1920 / rw, float(p[1]) * 1080 / rh)
    assert (a.x, a.y) == pytest.approx(expected, abs=1e-6)
    assert step.space == {"1.0": "rel1000", "1.5": "smart_resized_abs"}[version] and step.backend == "openai"
    assert step.screen.image_width == 1920 and step.screen.width == 1920.0 and step.screen.dpr == 1.0


def test_the_request_on_the_wire(replay):
    prev = np.full((1080, 1920, 3), 7, np.uint8)
    history = [(prev, "Thought: a\nAction: wait()"), (None, "Thought: b\nAction: wait()")]
    _step(replay, "Thought: x\nAction: finished(content='done')", history=history)
    req = replay.requests[-1]
    assert req["path"] == "/v1/chat/completions" and req["body"]["temperature"] == 0.0 and req["body"]["model"] == "ui-tars"
    msgs = req["body"]["messages"]
    assert "open the File menu" in msgs[0]["content"] and "<point>" in msgs[0]["content"]  # the 1.5 template
    images = [m for m in msgs if isinstance(m["content"], list)]
    assert len(images) == 2 and [m["content"] for m in msgs if m["role"] == "assistant"] == [h[1] for h in history]
    png = base64.b64decode(images[-1]["content"][0]["image_url"]["url"].split(",", 1)[1])
    assert cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).shape == (1080, 1920, 3)


def test_hidpi_and_a_tiny_window(replay):
    step = _step(replay, "Thought: x\nAction: click(start_box='(500,500)')", "1.0", Screen(1920, 1080, dpr=2.0))
    assert (step.actions[0].x, step.actions[0].y) == pytest.approx((480.0, 270.0))


@pytest.mark.parametrize("text, match", [
    ("Thought: x\nAction: click(start_box='=')", "cannot read a point"),
    ("Thought: x\nAction: fly_to(start_box='(1,2)')", "unknown action"),
    ("Thought: x\nAction: click(start_box='(1500,20)')", "off-screen"),  # rel1000 > 1000
    ("I am not sure what to do.", "not an action call"),
])
def test_malformed_output_never_becomes_a_click(replay, text, match):
    with pytest.raises(AgentError, match=match) as info:
        _step(replay, text, "1.0")
    assert info.value.raw == text


def test_retries_5xx_then_succeeds_and_gives_up_on_4xx(replay):
    replay.queue += [(503, "busy"), (502, "bad gateway"), (200, "Thought: x\nAction: wait()")]
    backend = OpenAIBackend(replay.url, "ui-tars", retries=2, backoff_s=0.01)
    text, space = backend.complete(AgentRequest(IMG, "wait", Screen(1920, 1080)))
    assert text.endswith("wait()") and space == "smart_resized_abs" and len(replay.requests) == 3
    replay.queue += [(400, "bad model name")]
    with pytest.raises(BackendError, match="HTTP 400"):
        backend.complete(AgentRequest(IMG, "wait", Screen(1920, 1080)))
    assert len(replay.requests) == 4  # no retry of a 4xx


def test_a_dead_endpoint_is_a_clear_error():
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "ui-tars", retries=1, backoff_s=0.01, timeout_s=2)
    with pytest.raises(BackendError, match="failed 2 times"):
        backend.complete(AgentRequest(IMG, "wait", Screen(1920, 1080)))


def test_through_the_rest_service(replay):
    from sensorium.deploy.settings import ServiceSettings

    from tests.deploy.conftest import running

    agent = build_gui_agent(AgentSettings(backend="openai", openai_base_url=replay.url, openai_model="ui-tars", uitars_version="1.0", retries=0))
    png = base64.b64encode(cv2.imencode(".png", IMG)[1].tobytes()).decode()
    with running(ServiceSettings(), agent) as url:
        replay.queue += [(200, "Thought: go\nAction: click(start_box='(250,750)')"), (200, "Thought: x\nAction: teleport(start_box='(1,2)')")]
        ok = httpx.post(url + "/v1/agent/act", json={"screenshot": png, "instruction": "click", "screen": {"width": 960, "height": 540}}, timeout=30)
        assert ok.status_code == 200 and (ok.json()["actions"][0]["x"], ok.json()["actions"][0]["y"]) == pytest.approx((240.0, 405.0))
        bad = httpx.post(url + "/v1/agent/act", json={"screenshot": png, "instruction": "click"}, timeout=30)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "unusable_model_output"
        assert "unknown action 'teleport'" in bad.json()["error"]["message"] and "teleport" in bad.json()["error"]["raw"]
