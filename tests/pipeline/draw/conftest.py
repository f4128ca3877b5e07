"""Shared helpers for the drawing tests: real photos and pixel-change counting."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.pipeline.draw.colormap import LUT


@pytest.fixture(scope="session")
def zidane(data_dir: Path) -> np.ndarray:
    """(720, 1280, 3) uint8 RGB photo of two people."""
    return cv2.cvtColor(cv2.imread(str(data_dir / "photos" / "zidane.jpg")), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def rgbd(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """A real Redwood frame: (480, 640, 3) uint8 RGB and (480, 640) float32 metres."""
    root = data_dir / "rgbd" / "redwood"
    image = cv2.cvtColor(cv2.imread(str(root / "color" / "00000.jpg")), cv2.COLOR_BGR2RGB)
    depth = cv2.imread(str(root / "depth" / "00000.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
    return image, depth


class Fill:
    """An annotator that fills the top-left 10x10 pixels with one colour (to see who drew last)."""

    def __init__(self, color: tuple[int, int, int]) -> None:
        self.color = color

    def annotate(self, image: np.ndarray, result: object) -> np.ndarray:
        image[:10, :10] = self.color
        return image


def changed(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]) -> int:
    """Pixels that differ between ``a`` and ``b`` inside ``box`` (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = box
    return int(np.any(a[y1:y2, x1:x2] != b[y1:y2, x1:x2], axis=-1).sum())


def ring(a: np.ndarray, b: np.ndarray, centre: tuple[int, int], r0: float, r1: float) -> int:
    """Changed pixels at distance [r0, r1) from ``centre``."""
    yy, xx = np.mgrid[: a.shape[0], : a.shape[1]]
    d = np.hypot(xx - centre[0], yy - centre[1])
    return int((np.any(a != b, axis=-1) & (d >= r0) & (d < r1)).sum())


def everywhere(image: np.ndarray) -> tuple[int, int, int, int]:
    return 0, 0, image.shape[1], image.shape[0]


def _key(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def lut_index(rgb: np.ndarray) -> np.ndarray:
    """(H, W) colour-map row (1 far .. 255 near; 0 black) of each pixel, which must be a LUT colour."""
    keys = _key(LUT)
    assert len(np.unique(keys)) == len(LUT)  # every row its own colour: the inverse exists
    order = np.argsort(keys)
    pos = np.searchsorted(keys[order], _key(rgb)).clip(0, len(LUT) - 1)
    assert (keys[order][pos] == _key(rgb)).all(), "a pixel that is not a colour-map colour"
    return order[pos]
