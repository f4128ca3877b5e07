"""POST /v1/perceive over real HTTP: the same results as the stage run directly on the same
image, and every bad request refused with a status and a message naming what was wrong."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest

from sensorium.pipeline.io.images import read_image
from sensorium.stages.base import build_stage
from sensorium.stages.frame import Frame
from sensorium.stages.results import result_from_dict
from tests.deploy.conftest import AUTH, b64, png


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
    ({"stages": ["detect", "zones"], "options": {"zones": {"tracks": "detect"}}}, 422, "invalid_options",
     "stage(s) 'zones' keep state across one source's frames"),
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


# --- pairs and multipart ---------------------------------------------------------------------
def _depth_direct(**frame_inputs) -> dict:
    from sensorium.pipeline.io.sinks.jsonl import frame_record

    (frame,) = build_stage("depth")([Frame("direct", 0, **frame_inputs)])
    assert "depth" not in frame.errors, frame.errors
    return frame_record(frame)["depth"]["depth"]


def _summary(body: dict) -> dict:
    assert body["errors"] == {}, body["errors"]
    return {k: v for k, v in body["depth"]["depth"].items() if k != "npz"}


def test_rgbd_pair_runs_depth_as_the_stage_does_on_the_same_files(service, data_dir):
    from sensorium.pipeline.io.images import read_depth
    from sensorium.stages.camera import Intrinsics

    color, depth = data_dir / "rgbd" / "redwood" / "color" / "00000.jpg", data_dir / "rgbd" / "redwood" / "depth" / "00000.png"
    intr = {"fx": 525.0, "fy": 525.0, "cx": 319.5, "cy": 239.5}
    image = read_image(color)
    want = _depth_direct(image=image, sensor_depth=read_depth(depth, 1000.0, image.shape[:2]),
                         calib=Intrinsics(np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]]), 640, 480))
    r = _post(service, {"image": base64.b64encode(color.read_bytes()).decode(), "depth": base64.b64encode(depth.read_bytes()).decode(),
                        "depth_scale": 1000, "intrinsics": intr, "stages": ["depth"]})
    assert r.status_code == 200, r.text
    assert _summary(r.json()) == {k: v for k, v in want.items() if k != "npz"} and want["valid_fraction"] > 0.5
    up = httpx.post(service + "/v1/perceive/upload", headers=AUTH, timeout=300,
                    files={"image": ("c.jpg", color.read_bytes(), "image/jpeg"), "depth": ("d.png", depth.read_bytes(), "image/png")},
                    data={"stages": "depth", "depth_scale": "1000", "intrinsics": json.dumps(intr)})
    assert up.status_code == 200, up.text
    assert _summary(up.json()) == _summary(r.json())  # multipart and JSON: one pipeline


def test_stereo_pair_with_its_calibration_runs_depth_as_the_stage_does(service):
    import cv2
    from skimage.data import stereo_motorcycle

    from sensorium.stages.camera import StereoCalibration

    left, right, _ = stereo_motorcycle()
    left, right = (cv2.resize(np.ascontiguousarray(a), (370, 250)) for a in (left, right))
    K = [[400.0, 0, 185.0], [0, 400.0, 125.0], [0, 0, 1]]
    calib = {"K1": K, "D1": [0, 0, 0, 0, 0], "K2": K, "D2": [0, 0, 0, 0, 0], "R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "T": [-0.2, 0, 0]}
    want = _depth_direct(image=left, right=right, calib=StereoCalibration(*(np.array(calib[k], float) for k in ("K1", "D1", "K2", "D2", "R", "T")), 370, 250))
    r = _post(service, {"image": base64.b64encode(png(left[..., ::-1])).decode(), "right": base64.b64encode(png(right[..., ::-1])).decode(),
                        "calib": calib, "stages": ["depth"]})
    assert r.status_code == 200, r.text
    assert _summary(r.json()) == {k: v for k, v in want.items() if k != "npz"} and want["depth_median_m"] is not None
    assert r.json()["calib"]["type"] == "StereoCalibration"


def test_multipart_detect_equals_json_detect(service, data_dir):
    path = data_dir / "photos" / "zidane.jpg"
    js = _post(service, {"image": base64.b64encode(path.read_bytes()).decode(), "stages": ["detect"]})
    up = httpx.post(service + "/v1/perceive/upload", headers=AUTH, timeout=300, files={"image": ("z.jpg", path.read_bytes(), "image/jpeg")},
                    data={"stages": "detect", "options": "{}"})
    assert js.status_code == up.status_code == 200, up.text
    assert up.json()["results"] == js.json()["results"]


_K = [[400.0, 0, 4.0], [0, 400.0, 4.0], [0, 0, 1]]


@pytest.mark.parametrize("extra, status, code, message", [
    ({"calib": {"K1": _K, "K2": _K, "R": _K, "T": [0, 0, 0]}}, 422, "invalid_request", "calib belongs to a stereo pair"),
    ({"intrinsics": {"fx": 1, "fy": 1, "cx": 1, "cy": 1}}, 422, "invalid_request", "intrinsics belong to an RGB-D pair"),
    ({"depth": "AAAA", "depth_scale": float("inf")}, 422, "invalid_request", "depth_scale"),
    ({"depth": "AAAA", "depth_scale": 0}, 422, "invalid_request", "depth_scale"),
    ({"depth": None, "right": b64(png(np.zeros((4, 8, 3), np.uint8)))}, 400, "bad_input", "right: expected the left image's shape"),
    ({"depth": b64(png(np.zeros((8, 8, 3), np.uint8)))}, 400, "bad_image", "expected a single-channel 16-bit depth PNG"),
    ({"depth": b64(png(np.zeros((4, 8), np.uint16)))}, 400, "bad_image", "depth is 8x4 but the colour image is 8x8"),
])
def test_bad_pairs_name_what_was_wrong(service, extra, status, code, message):
    body = {"image": b64(png(np.zeros((8, 8, 3), np.uint8))), "stages": ["depth"], **{k: v for k, v in extra.items() if v is not None}}
    r = httpx.post(service + "/v1/perceive", headers={**AUTH, "content-type": "application/json"}, timeout=60,
                   content=json.dumps(body).replace("Infinity", "1e309"))
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and message in r.json()["error"]["message"], r.text
