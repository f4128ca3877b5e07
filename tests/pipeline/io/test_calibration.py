"""Calibration files: OpenCV YAML/XML and JSON round trips, aliases, clear errors."""

from __future__ import annotations

import json
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.calibration import (
    read_image_list,
    read_intrinsics,
    read_stereo_calibration,
    write_stereo_calibration,
)
from sensorium.stages.camera import StereoCalibration


def _calib() -> StereoCalibration:
    K1 = np.array([[530.1, 0, 322.4], [0, 529.7, 241.9], [0, 0, 1]])
    K2 = np.array([[528.3, 0, 318.2], [0, 528.9, 239.1], [0, 0, 1]])
    R = cv2.Rodrigues(np.array([0.01, -0.02, 0.005]))[0]
    return StereoCalibration(K1, [-0.26, 0.05, 0.001, -0.0003, 0.2], K2, [-0.25, 0.04, 0.0, 0.0, 0.1], R, [-0.083, 0.001, 0.0015], 640, 480)


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".xml", ".json"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    calib = _calib()
    path = write_stereo_calibration(tmp_path / f"calib{suffix}", calib)
    back = read_stereo_calibration(path)
    for name in ("K1", "D1", "K2", "D2", "R", "T"):
        assert np.allclose(getattr(back, name), getattr(calib, name), rtol=0, atol=1e-12), name
    assert (back.width, back.height) == (640, 480)


def test_opencv_sample_naming_m1_m2(tmp_path: Path) -> None:
    """OpenCV's stereo_calib sample writes intrinsics as M1/M2 (and the size separately)."""
    calib = _calib()
    path = tmp_path / "intrinsics.yml"
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    for key, value in (("M1", calib.K1), ("D1", calib.D1.reshape(1, -1)), ("M2", calib.K2), ("D2", calib.D2.reshape(1, -1)),
                       ("R", calib.R), ("T", calib.T.reshape(3, 1))):
        fs.write(key, value)
    fs.write("image_width", 640)
    fs.write("image_height", 480)
    fs.release()
    back = read_stereo_calibration(path)
    assert np.allclose(back.K1, calib.K1) and np.allclose(back.K2, calib.K2)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        read_stereo_calibration(tmp_path / "nope.yaml")
    with pytest.raises(FileNotFoundError, match="nope.json"):
        read_intrinsics(tmp_path / "nope.json")


def test_chessboard_config_is_an_image_list_not_a_calibration(data_dir: Path) -> None:
    path = data_dir / "stereo/chessboard/stereo_calib.xml"
    with pytest.raises(ValueError, match="stereo_calib.xml.*'K1'.*image list"):
        read_stereo_calibration(path)
    names = read_image_list(path)
    assert len(names) == 26 and names[:2] == ["left01.jpg", "right01.jpg"]
    assert all((path.parent / n).is_file() for n in names)


def _json(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "calib.json"
    path.write_text(json.dumps(values))
    return path


@pytest.mark.parametrize(
    "change, expectation",
    [
        ({}, does_not_raise()),
        ({"K1": [[1, 0, 0], [0, 1, 0]]}, pytest.raises(ValueError, match=r"calib.json: key 'K1': expected 3x3")),
        ({"T": "far"}, pytest.raises(ValueError, match=r"calib.json: key 'T': expected numbers")),
        ({"R": [[np.nan, 0, 0], [0, 1, 0], [0, 0, 1]]}, pytest.raises(ValueError, match=r"calib.json: key 'R': contains NaN")),
        ({"D2": [0.1, 0.2, 0.3]}, pytest.raises(ValueError, match=r"calib.json: .*D2.*distortion")),
        ({"image_width": None}, pytest.raises(ValueError, match=r"calib.json: missing key 'image_width'")),
        ({"image_height": -4}, pytest.raises(ValueError, match=r"calib.json: key 'image_height'")),
    ],
)
def test_malformed_json_names_file_and_key(tmp_path: Path, change: dict, expectation) -> None:
    values = _calib().to_dict()
    values["image_width"], values["image_height"] = values.pop("width"), values.pop("height")
    values.update(change)
    values = {k: v for k, v in values.items() if v is not None}
    with expectation:
        read_stereo_calibration(_json(tmp_path, values))


@pytest.mark.parametrize(
    "content, match",
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"K1": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}', "missing key 'D1'"), ('{"K1": 1}', "key 'K1': expected 3x3")],
)
def test_garbage_json(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "calib.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        read_stereo_calibration(path)


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "calib.txt"
    path.write_text("K1 = 1")
    with pytest.raises(ValueError, match=r"calib.txt: unknown calibration format"):
        read_stereo_calibration(path)


def test_redwood_open3d_intrinsics_are_column_major(data_dir: Path) -> None:
    intr = read_intrinsics(data_dir / "rgbd/redwood/camera_primesense.json")
    assert (intr.width, intr.height) == (640, 480)
    assert intr.fx == intr.fy == 525.0
    assert (intr.cx, intr.cy) == (319.5, 239.5)  # read row-major, cx would land in K[2, 0]


@pytest.mark.parametrize(
    "values, expectation",
    [
        ({"fx": 500, "fy": 501, "cx": 320, "cy": 240, "width": 640, "height": 480}, does_not_raise()),
        ({"K": [[500, 0, 320], [0, 500, 240], [0, 0, 1]], "image_width": 640, "image_height": 480}, does_not_raise()),
        ({"fx": 500, "fy": 500, "cx": 320, "width": 640, "height": 480}, pytest.raises(ValueError, match="missing key 'K'")),
        ({"K": [[500, 0, 320], [0, 500, 240], [0, 0, 1]], "height": 480}, pytest.raises(ValueError, match="missing key 'width'")),
        ({"K": [[-5, 0, 320], [0, 500, 240], [0, 0, 1]], "width": 640, "height": 480}, pytest.raises(ValueError, match="key 'K'")),
        ({"K": [[500, 0, 320], [0, 500, 240], [0, 0, 1]], "width": 64.5, "height": 480}, pytest.raises(ValueError, match="key 'width'")),
    ],
)
def test_intrinsics_json(tmp_path: Path, values: dict, expectation) -> None:
    path = tmp_path / "intrinsics.json"
    path.write_text(json.dumps(values))
    with expectation:
        intr = read_intrinsics(path)
        assert intr.cx == 320 and intr.height == 480
