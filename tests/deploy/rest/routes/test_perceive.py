"""POST /v1/perceive over real HTTP: the same results as the stage run directly on the same
image, and every bad request refused with a status and a message naming what was wrong."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

from sensorium.pipeline.io.images import read_image
from sensorium.stages.base import build_stage
from sensorium.stages.frame import Frame
from sensorium.stages.results import result_from_dict
from tests.deploy.conftest import AUTH


def _post(service: str, body: dict) -> httpx.Response:
    return httpx.post(service + "/v1/perceive", headers=AUTH, json=body, timeout=300)


def test_detections_equal_the_stage_run_on_the_same_file(service, data_dir):
    path = data_dir / "photos" / "bus.jpg"
    r = _post(service, {"image": base64.b64encode(path.read_bytes()).decode(), "stages": ["detect"], "options": {"detect": {"score_threshold": "0.3"}}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] == {} and body["image_shape"] == [1080, 810, 3] and body["request_id"]
    got = result_from_dict(body["results"]["detect"])
    stage = build_stage("detect", {"score_threshold": 0.3})
    (frame,) = stage([Frame("direct", 0, image=read_image(path))])
    want = frame.results["detect"]
    assert len(want) > 0
    np.testing.assert_allclose(got.boxes, want.boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(got.class_id, want.class_id)


@pytest.mark.parametrize("body, status, code, message", [
    ({"stages": ["nope"]}, 422, "invalid_options", "unknown stage 'nope'"),
    ({"stages": ["detect"], "options": {"detect": {"precision": "fp64"}}}, 422, "invalid_options", "detect.precision: expected"),
    ({"stages": ["detect"], "options": {"detect": {"bogus": 1}}}, 422, "invalid_options", "bogus"),
    ({"stages": ["detect"], "options": {"face": {}}}, 422, "invalid_options", "options for stage(s) face"),
    ({"stages": ["detect"], "image": "not base64!"}, 400, "bad_image", "image: not valid base64"),
    ({"stages": ["detect"], "image": base64.b64encode(b"GIF89a" + bytes(64)).decode()}, 400, "bad_image", "image"),
    ({"stages": []}, 422, None, "stages"),
])
def test_bad_requests_name_what_was_wrong(service, body, status, code, message):
    body = {"image": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode(), **body}
    r = _post(service, body)
    assert r.status_code == status, r.text
    if code is not None:
        assert r.json()["error"]["code"] == code
    assert message in r.text
