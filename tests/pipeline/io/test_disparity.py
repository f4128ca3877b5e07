"""Ground-truth disparity files: PFM (bytes as Middlebury writes them) and scaled PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.disparity import read_disparity, read_pfm, write_pfm


def test_pfm_from_hand_made_bytes(tmp_path: Path) -> None:
    """A 3x2 big-endian PFM: rows stored bottom-up, inf unknown."""
    rows_bottom_up = np.array([[4, 5, np.inf], [1, 2, 3]], ">f4")
    (tmp_path / "gt.pfm").write_bytes(b"Pf\n3 2\n1.0\n" + rows_bottom_up.tobytes())
    gt = read_disparity(tmp_path / "gt.pfm")
    assert gt.dtype == np.float32 and gt.tolist() == [[1, 2, 3], [4, 5, np.inf]]


def test_pfm_round_trip_little_endian(tmp_path: Path) -> None:
    d = np.random.default_rng(0).random((5, 7)).astype(np.float32) * 100
    write_pfm(tmp_path / "d.pfm", d)
    assert (tmp_path / "d.pfm").read_bytes().startswith(b"Pf\n7 5\n-1\n")
    assert np.array_equal(read_pfm(tmp_path / "d.pfm"), d)


@pytest.mark.parametrize("dtype, scale, raw, expected", [(np.uint16, None, 2560, 10.0), (np.uint16, 64.0, 640, 10.0), (np.uint8, 4.0, 40, 10.0)])
def test_png_scaled_with_zero_unknown(tmp_path: Path, dtype, scale, raw: int, expected: float) -> None:
    img = np.array([[raw, 0]], dtype)
    cv2.imwrite(str(tmp_path / "gt.png"), img)
    gt = read_disparity(tmp_path / "gt.png", scale)
    assert gt[0, 0] == pytest.approx(expected) and np.isinf(gt[0, 1])


@pytest.mark.parametrize(
    "content, message",
    [(b"P6\n3 2\n255\n", "not a PFM"), (b"Pf\n3 2\n-1\n" + bytes(8), "holds 8 bytes"), (b"Pf\nx 2\n-1\n", "bad PFM header")],
)
def test_bad_pfm_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "bad.pfm").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_disparity(tmp_path / "bad.pfm")


def test_colour_png_is_not_ground_truth(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="single-channel"):
        read_disparity(tmp_path / "rgb.png")
