"""Helpers shared by the source tests: read a finite source whole, write a PNG, a stereo folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.calibration import write_stereo_calibration
from sensorium.stages.camera import StereoCalibration


def _read_all(source, limit: int = 2000) -> list:
    frames = []
    for frame in source.frames():
        frames.append(frame)
        assert len(frames) <= limit, f"{source} yielded more than {limit} frames"
    return frames


def _write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image), path
    return path


def _rectified_calib(path: Path, width: int = 640, height: int = 480) -> Path:
    return write_stereo_calibration(path, StereoCalibration.rectified(500.0, (width - 1) / 2, (height - 1) / 2, 0.06, width, height))


@pytest.fixture
def read_all():
    """``read_all(source, limit=2000)``: every frame of a finite source (bounded, so a bug cannot loop forever)."""
    return _read_all


@pytest.fixture
def write_png():
    """``write_png(path, bgr)``: write an image with OpenCV, creating folders; returns the path."""
    return _write_png


@pytest.fixture
def rectified_calib():
    """``rectified_calib(path, width, height)``: write a rectified pair's calibration (baseline 6 cm)."""
    return _rectified_calib


@pytest.fixture
def stereo_folder(data_dir, tmp_path) -> Path:
    """left/ and right/ with three real chessboard pairs and a calib.yaml."""
    folder = tmp_path / "stereo"
    for i in (1, 2, 3):
        for side in ("left", "right"):
            (folder / side).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_dir / f"stereo/chessboard/{side}{i:02d}.jpg", folder / side / f"{i:02d}.jpg")
    _rectified_calib(folder / "calib.yaml")
    return folder
