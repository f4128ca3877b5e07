"""The REST service over real HTTP: answers, and a clear 4xx for every kind of bad input."""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import zlib

import cv2
import httpx
import numpy as np
import pytest

from sensorium.deploy.settings import ServiceSettings, read_token

from .conftest import CLI, free_port, running, wait_healthy

AUTH = {"Authorization": "Bearer s3cret-token"}


def _png(img: np.ndarray) -> bytes:
    return cv2.imencode(".png", img)[1].tobytes()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _screen_with_button(text="Submit", size=(480, 640)):
    img = np.full((*size, 3), 250, np.uint8)
    cv2.rectangle(img, (200, 200), (360, 250), (60, 60, 60), 2)
    cv2.putText(img, text, (222, 235), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2, cv2.LINE_AA)
    return img


def _png_header(w: int, h: int) -> bytes:
    """A PNG whose header claims w x h (no pixel data worth decoding)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def test_act_returns_a_click_in_screen_pixels(service):
    img = _screen_with_button()
    r = httpx.post(service + "/v1/agent/act", headers=AUTH, timeout=60,
                   json={"screenshot": _b64(_png(img)), "instruction": "click Submit", "screen": {"dpr": 2}})
    assert r.status_code == 200, r.text
    body = r.json()
    (a,) = body["actions"]
    assert a["type"] == "click" and body["space"] == "physical_px" and body["backend"] == "local"
    assert 100 <= a["x"] <= 180 and 100 <= a["y"] <= 125  # the button's centre (280, 225) at DPR 2
    assert r.headers["x-request-id"] == body["request_id"]


def test_multipart_upload(service):
    r = httpx.post(service + "/v1/agent/act/upload", headers=AUTH, timeout=60, files={"screenshot": ("s.png", _png(_screen_with_button()), "image/png")},
                   data={"instruction": "click Submit"})
    assert r.status_code == 200, r.text
    assert r.json()["actions"][0]["type"] == "click"


@pytest.mark.parametrize("payload, status, code", [
    ({"screenshot": _b64(b"this is not an image at all"), "instruction": "click OK"}, 400, "bad_image"),
    ({"screenshot": "%%%not base64%%%", "instruction": "click OK"}, 400, "bad_image"),
    ({"screenshot": _b64(_png_header(0, 0)), "instruction": "click OK"}, 400, "bad_image"),
    ({"screenshot": _b64(_png_header(50000, 50000)), "instruction": "click OK"}, 413, "image_too_large"),
    ({"screenshot": _b64(_png(np.zeros((20, 20, 3), np.uint8))[:40]), "instruction": "click OK"}, 400, "bad_image"),
    ({"screenshot": _b64(_png(np.zeros((20, 20, 3), np.uint8))), "instruction": ""}, 422, "invalid_request"),
    ({"instruction": "click OK"}, 422, "invalid_request"),
    ({"screenshot": _b64(_png(np.zeros((20, 20, 3), np.uint8))), "instruction": "click OK", "screen": {"dpr": -1}}, 422, "invalid_request"),
])
def test_bad_requests_get_a_clear_4xx(service, payload, status, code):
    r = httpx.post(service + "/v1/agent/act", headers=AUTH, json=payload, timeout=30)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and err["request_id"]
    assert " object at 0x" not in err["message"]  # about what the client sent, not our buffers
    assert httpx.get(service + "/healthz", timeout=5).status_code == 200  # still serving


@pytest.mark.parametrize("headers, message", [({}, "missing bearer token"), ({"Authorization": "Bearer nope"}, "wrong bearer token"),
                                              ({"Authorization": "Basic czNjcmV0"}, "missing bearer token")])
def test_auth(service, headers, message):
    r = httpx.post(service + "/v1/agent/act", headers=headers, json={"screenshot": _b64(_png(_screen_with_button())), "instruction": "click Submit"})
    assert r.status_code == 401 and message in r.json()["error"]["message"] and r.headers["www-authenticate"] == "Bearer"


def test_oversized_body_is_refused_before_it_is_read(service):
    r = httpx.post(service + "/v1/agent/act", headers={**AUTH, "content-type": "application/json"}, content=b"{" + b" " * (5 * 1024 * 1024) + b"}")
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_an_ungroundable_instruction_is_call_user_with_a_reason(service):
    img = _screen_with_button()
    r = httpx.post(service + "/v1/agent/act", headers=AUTH, timeout=60,
                   json={"screenshot": _b64(_png(img)), "instruction": "click the unicorn"})
    assert r.status_code == 200 and r.json()["actions"][0]["type"] == "call_user" and "unicorn" in r.json()["thought"]


def test_metrics_and_openapi(service):
    assert "sensorium_http_requests_total" in httpx.get(service + "/metrics").text
    spec = httpx.get(service + "/openapi.json").json()
    assert "/v1/agent/act" in spec["paths"] and "ActRequest" in spec["components"]["schemas"]


def test_rate_limit(local_agent):
    with running(ServiceSettings(rate_limit_per_minute=60, rate_limit_burst=2), local_agent) as url:
        body = {"screenshot": _b64(_png(np.full((64, 64, 3), 255, np.uint8))), "instruction": "scroll down"}
        codes = [httpx.post(url + "/v1/agent/act", json=body, timeout=30).status_code for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[2] == 429
        r = httpx.post(url + "/v1/agent/act", json=body, timeout=30)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "rate_limited"


def test_refuses_a_public_address_without_a_token(monkeypatch, tmp_path):
    monkeypatch.delenv("SENSORIUM_TOKEN", raising=False)
    with pytest.raises(ValueError, match="without a bearer token"):
        ServiceSettings(host="0.0.0.0")
    ServiceSettings(host="0.0.0.0", token="t")
    (tmp_path / "tok").write_text("from-file\n")
    assert read_token(token_file=tmp_path / "tok") == "from-file"
    with pytest.raises(FileNotFoundError):
        read_token(token_file=tmp_path / "none")


def test_serve_command_over_real_http(tmp_path):
    """``sensorium serve --local`` in its own process: it answers, and it refuses a public
    address without a token."""
    env = {k: v for k, v in os.environ.items() if k not in ("SENSORIUM_TOKEN", "SENSORIUM_TOKEN_FILE")}
    refused = subprocess.run(CLI + ["serve", "--local", "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "without a bearer token" in refused.stdout + refused.stderr
    (tmp_path / "token").write_text("tok-123\n")
    port = free_port()
    proc = subprocess.Popen(CLI + ["serve", "--local", "--port", str(port), "--token-file", str(tmp_path / "token")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        r = wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=120)
        assert r.status_code == 200 and r.json()["backend"] == "local"
        body = {"screenshot": _b64(_png(_screen_with_button())), "instruction": "click Submit"}
        assert httpx.post(f"http://127.0.0.1:{port}/v1/agent/act", json=body, timeout=60).status_code == 401
        ok = httpx.post(f"http://127.0.0.1:{port}/v1/agent/act", json=body, headers={"Authorization": "Bearer tok-123"}, timeout=60)
        assert ok.status_code == 200 and ok.json()["actions"][0]["type"] == "click"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_agent_act_prints_json_and_executes_nothing(tmp_path):
    """``sensorium agent act`` without --execute: the JSON answer in screen pixels, nothing run;
    without a screenshot to read it says what is missing."""
    shot = tmp_path / "s.png"
    shot.write_bytes(_png(_screen_with_button()))
    out = subprocess.run(CLI + ["agent", "act", "--screenshot", str(shot), "-i", "click Submit", "--dpr", "2"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    [click] = json.loads(out.stdout)["actions"]
    assert click["type"] == "click" and 100 <= click["x"] <= 180 and 100 <= click["y"] <= 125  # the button, in half the pixels
    missing = subprocess.run(CLI + ["agent", "act", "-i", "click Submit"], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "--screenshot is needed" in missing.stderr
