"""Stereo calibration on OpenCV's real chessboard pairs (9x6 inner corners)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.calibration import read_image_list, read_stereo_calibration, write_stereo_calibration
from sensorium.stages.depth import stereo
from sensorium.stages.depth.calibration import CalibrationReport, calibrate_stereo, find_corners
from sensorium.stages.camera import StereoCalibration

BOARD = (9, 6)
SQUARE = 0.025  # metres; the set does not say, so the baseline is checked in squares


@pytest.fixture(scope="module")
def pairs(data_dir: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    folder = data_dir / "stereo/chessboard"
    names = read_image_list(folder / "stereo_calib.xml")  # left, right, left, right, ...
    images = [cv2.imread(str(folder / n))[:, :, ::-1].copy() for n in names]
    return images[0::2], images[1::2]


@pytest.fixture(scope="module")
def calibrated(pairs) -> tuple[StereoCalibration, CalibrationReport]:
    return calibrate_stereo(*pairs, BOARD, SQUARE)


def test_reprojection_error_is_small(calibrated) -> None:
    calib, report = calibrated
    assert report.image_size == (640, 480) == (calib.width, calib.height)
    assert report.rms < 1.0 and report.rms_left < 1.0 and report.rms_right < 1.0
    assert len(report.used) >= 10 and all(max(e) < 1.0 for e in report.per_pair.values())
    # pair 1 (left02/right02) reprojects at ~1.2 px, 5x the median: dropped as an outlier
    assert set(report.used) | set(report.skipped) == set(range(13))
    assert all("outlier" in why for why in report.skipped.values())
    assert report.notes == ()


def test_baseline_is_plausible(calibrated) -> None:
    calib, _ = calibrated
    squares = calib.baseline / SQUARE
    assert 2.5 < squares < 4.5  # ~3.3 squares for this rig
    assert calib.T[0] < 0 and abs(calib.T[0]) > 10 * max(abs(calib.T[1]), abs(calib.T[2]))  # right camera to the right
    assert np.allclose(calib.R @ calib.R.T, np.eye(3), atol=1e-9)
    assert 450 < calib.K1[0, 0] < 650 and 450 < calib.K2[0, 0] < 650


@pytest.mark.parametrize("suffix", [".yaml", ".xml", ".json"])
def test_round_trips_through_calibration_io(calibrated, tmp_path: Path, suffix: str) -> None:
    calib, _ = calibrated
    back = read_stereo_calibration(write_stereo_calibration(tmp_path / f"stereo{suffix}", calib))
    for name in ("K1", "D1", "K2", "D2", "R", "T"):
        assert np.allclose(getattr(back, name), getattr(calib, name), rtol=1e-12, atol=1e-12), name
    assert (back.width, back.height) == (calib.width, calib.height)


@pytest.mark.parametrize("pair", [0, 4, 9])
def test_rectified_corners_share_rows(calibrated, pairs, pair: int) -> None:
    calib, _ = calibrated
    lefts, rights = pairs
    raw_l, raw_r = find_corners(lefts[pair], BOARD), find_corners(rights[pair], BOARD)
    left_r, right_r, Q, K = stereo.rectify(lefts[pair], rights[pair], calib)
    cl, cr = find_corners(left_r, BOARD), find_corners(right_r, BOARD)
    assert cl is not None and cr is not None
    dy = np.abs(cl[:, 0, 1] - cr[:, 0, 1])
    assert dy.max() < 1.0 and dy.mean() < 0.4
    # before rectification the rows disagree: the check has something to fix
    assert np.abs(raw_l[:, 0, 1] - raw_r[:, 0, 1]).max() > 2.0
    # and the rectified disparity turns into the board's metric depth: corners 1 square apart
    disp = cl[:, 0, 0] - cr[:, 0, 0]
    pts = cv2.perspectiveTransform(np.c_[cl[:, 0], disp].reshape(-1, 1, 3).astype(np.float64), Q).reshape(BOARD[1], BOARD[0], 3)
    spacing = np.linalg.norm(np.diff(pts, axis=1), axis=2)
    assert np.median(spacing) == pytest.approx(SQUARE, rel=0.03)


def test_pairs_without_a_board_are_skipped_with_a_reason(pairs) -> None:
    lefts, rights = pairs
    blank = np.full_like(lefts[0], 127)
    calib, report = calibrate_stereo([blank, *lefts[:4]], [rights[0], *rights[:4]], BOARD, SQUARE, outlier_factor=None)
    assert report.skipped == {0: "no full chessboard in the left image"}
    assert report.used == (1, 2, 3, 4)
    assert report.rms < 1.0


def test_swapped_images_are_flagged(pairs) -> None:
    lefts, rights = pairs
    calib, report = calibrate_stereo(rights[:5], lefts[:5], BOARD, SQUARE)
    assert calib.T[0] > 0 and any("swapped" in n for n in report.notes)


@pytest.mark.parametrize(
    "args, match",
    [
        (dict(lefts=[], rights=[np.zeros((8, 8), np.uint8)]), "as many left as right"),
        (dict(board=(1, 6)), "inner corners"),
        (dict(square_size=0.0), "square_size"),
        (dict(lefts=[np.zeros((8, 8), np.float32)] * 3, rights=[np.zeros((8, 8), np.float32)] * 3), "uint8"),
        (dict(lefts=[np.full((64, 64), 127, np.uint8)] * 3, rights=[np.full((64, 64), 127, np.uint8)] * 3), "at least 3 pairs"),
    ],
)
def test_rejects_bad_input(args: dict, match: str) -> None:
    kwargs = dict(lefts=[np.zeros((8, 8), np.uint8)] * 3, rights=[np.zeros((8, 8), np.uint8)] * 3, board=BOARD, square_size=SQUARE) | args
    with pytest.raises(ValueError, match=match):
        calibrate_stereo(**kwargs)
