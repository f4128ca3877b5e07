"""Frames: input validation and JSON round trip with every kind of calibration and result."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sensorium.stages.camera import Intrinsics, StereoCalibration
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Detections


def test_round_trip_with_inputs_results_errors_and_calibration():
    rng = np.random.default_rng(1)
    f = Frame("cam0", 7, 123.5, image=rng.integers(0, 255, (6, 8, 3), dtype=np.uint8), right=rng.integers(0, 255, (6, 8, 3), dtype=np.uint8),
              calib=StereoCalibration.rectified(500.0, 4.0, 3.0, 0.1, 8, 6), pose=np.eye(4), meta={"path": "x.png", "arr": np.arange(3)})
    f.results["depth"] = Depth(depth=rng.uniform(0, 3, (6, 8)), confidence=np.ones((6, 8)), K=np.eye(3))
    f.results["detect"] = Detections(boxes=[[0, 0, 2, 2]], scores=[0.5], class_id=[1])
    f.errors["face"] = "cam0#7: face: no face"
    f.timings["depth"] = 0.01
    back = Frame.from_dict(json.loads(json.dumps(f.to_dict(include_inputs=True))))
    assert back.key == "cam0#7" and back.timestamp == 123.5
    assert np.array_equal(back.image, f.image) and np.array_equal(back.right, f.right)
    assert back.results["depth"] == f.results["depth"] and back.results["detect"] == f.results["detect"]
    assert back.errors == f.errors and back.timings == f.timings and back.meta["arr"] == [0, 1, 2]
    assert isinstance(back.calib, StereoCalibration) and back.calib.baseline == pytest.approx(0.1)
    light = f.to_dict()
    assert "image" not in light and light["image_shape"] == [6, 8, 3]


def test_intrinsics_round_trip():
    f = Frame("rgbd", 0, image=np.zeros((4, 4, 3), np.uint8), sensor_depth=np.ones((4, 4), np.float32), calib=Intrinsics(np.eye(3), 4, 4))
    back = Frame.from_dict(json.loads(json.dumps(f.to_dict(include_inputs=True))))
    assert isinstance(back.calib, Intrinsics) and np.array_equal(back.sensor_depth, f.sensor_depth)


@pytest.mark.parametrize("kwargs, match", [
    (dict(image=np.zeros((4, 4, 4), np.uint8)), r"image: expected \(H, W, 3\) uint8 RGB image, got \(4, 4, 4\) uint8"),
    (dict(image=np.zeros((4, 4, 3), np.float32)), "float32"),
    (dict(image=np.zeros((0, 4, 3), np.uint8)), "image"),
    (dict(right=np.zeros((4, 4), np.uint8)), "right image"),
    (dict(sensor_depth=np.zeros((4, 4, 1), np.float32)), "sensor depth"),
    (dict(pose=np.eye(3)), "pose"),
])
def test_bad_inputs_name_the_frame_and_the_problem(kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        Frame("cam", 3, **kwargs)
    assert "cam#3" in str(info.value)


def test_scaled_intrinsics_and_stereo_checks():
    k = Intrinsics(np.array([[500, 0, 320], [0, 500, 240], [0, 0, 1]], float), 640, 480).scaled(320, 240)
    assert (k.fx, k.cx, k.cy) == (250, 160, 120)
    with pytest.raises(ValueError, match="distortion"):
        StereoCalibration(np.eye(3), np.zeros(3), np.eye(3), np.zeros(5), np.eye(3), np.zeros(3), 10, 10)
    with pytest.raises(ValueError, match="missing T"):
        StereoCalibration.from_dict({"K1": np.eye(3), "D1": [], "K2": np.eye(3), "D2": [], "R": np.eye(3), "width": 1, "height": 1})
