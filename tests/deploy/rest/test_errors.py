"""Errors as JSON: a clear 4xx for every kind of bad input, 502 for a dead model endpoint, 500 with a request id for the rest."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from tests.deploy.conftest import AUTH, b64, png, png_header


@pytest.mark.parametrize("payload, status, code", [
    ({"screenshot": b64(b"this is not an image at all"), "instruction": "click OK"}, 400, "bad_image"),
    ({"screenshot": "%%%not base64%%%", "instruction": "click OK"}, 400, "bad_image"),
    ({"screenshot": b64(png_header(0, 0)), "instruction": "click OK"}, 400, "bad_image"),
    ({"screenshot": b64(png_header(50000, 50000)), "instruction": "click OK"}, 413, "image_too_large"),
    ({"screenshot": b64(png(np.zeros((20, 20, 3), np.uint8))[:40]), "instruction": "click OK"}, 400, "bad_image"),
    ({"screenshot": b64(png(np.zeros((20, 20, 3), np.uint8))), "instruction": ""}, 422, "invalid_request"),
    ({"instruction": "click OK"}, 422, "invalid_request"),
    ({"screenshot": b64(png(np.zeros((20, 20, 3), np.uint8))), "instruction": "click OK", "screen": {"dpr": -1}}, 422, "invalid_request"),
])
def test_bad_requests_get_a_clear_4xx(service, payload, status, code):
    r = httpx.post(service + "/v1/agent/act", headers=AUTH, json=payload, timeout=30)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and err["request_id"]
    assert " object at 0x" not in err["message"]  # about what the client sent, not our buffers
    assert httpx.get(service + "/healthz", timeout=5).status_code == 200  # still serving


class _Broken:
    """A backend with a bug (the protocol's smallest implementation that fails unexpectedly)."""

    name = "broken"

    def complete(self, request):
        raise KeyError("a bug in the backend")


def test_a_dead_model_endpoint_is_502_and_a_bug_is_500_with_its_request_id(caplog):
    from sensorium.pipeline.agent.build import AgentSettings, build_gui_agent
    from sensorium.deploy.settings import ServiceSettings
    from sensorium.stages.gui.stage import GuiAgentStage
    from tests.deploy.conftest import running

    body = {"screenshot": b64(png(np.zeros((20, 20, 3), np.uint8))), "instruction": "click OK"}
    dead = build_gui_agent(AgentSettings(backend="openai", openai_base_url="http://127.0.0.1:9/v1", openai_model="m", retries=0))
    with running(ServiceSettings(), dead) as url:
        r = httpx.post(url + "/v1/agent/act", json=body, timeout=60)
    assert r.status_code == 502 and r.json()["error"]["code"] == "backend_failed" and "127.0.0.1:9" in r.json()["error"]["message"]
    with running(ServiceSettings(), GuiAgentStage(backend=_Broken())) as url:
        r = httpx.post(url + "/v1/agent/act", json=body, headers={"x-request-id": "req-42"}, timeout=60)
    assert r.status_code == 500 and r.json()["error"] == {"code": "internal", "message": "internal error; see the server log for this request id",
                                                          "request_id": "req-42"}
    assert "a bug in the backend" not in r.text  # the details stay in the log
    assert any("req-42" in rec.getMessage() and rec.exc_info for rec in caplog.records)


def _gif() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="GIF")
    return buf.getvalue()


@pytest.mark.parametrize("data, status, match", [
    (b"", 400, "screenshot: empty file"),
    (b"GIF89a" + b"\x00" * 40, 400, r"screenshot: not a decodable image \(46 bytes starting"),
    (_gif(), 400, "screenshot: GIF images are not accepted; expected PNG, JPEG, WEBP"),
    (png_header(9000, 9000), 413, "9000x9000 is above the limit of 1000000 pixels"),
    (png(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))[:200], 400, "screenshot: truncated PNG: no IEND chunk"),
])
def test_decode_image_checks_before_decoding(data, status, match):
    from sensorium.deploy.rest.errors import ApiError
    from sensorium.deploy.rest.images import decode_image

    with pytest.raises(ApiError, match=match) as info:
        decode_image(data, 1_000_000)
    assert info.value.status == status


def test_decode_image_returns_rgb():
    from sensorium.deploy.rest.images import decode_b64, decode_image

    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 255  # blue in OpenCV's order
    rgb = decode_image(decode_b64("data:image/png;base64," + b64(png(bgr)), "s"), 100)
    assert rgb.shape == (4, 6, 3) and (rgb[..., 2] == 255).all() and (rgb[..., 0] == 0).all()
