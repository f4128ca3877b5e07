"""Cross-check: a second, differently erring matcher marks where the first one is likely wrong.

The LR check catches a mismatch only when the mirrored match disagrees; both matches share the
cost (intensity), so they often err alike. SGBM on rank-transformed images (each pixel replaced
by how many of its neighbours are darker: Zabih and Woodfill 1994) compares local orderings
instead of grey levels and is blind to gain and offset, so it fails elsewhere. Where its value
differs from the output by more than ``tolerance``, the pixel's confidence is cut; the
disparities themselves are left as they are (taking the rank matcher's value there, or trusting
rejected pixels where the two agree, measured worse: docs/benchmarks.md, fourth round).

Measured on Motorcycle, the bad pixels' (> 2 px) ranking by confidence improves from ROC AUC
0.79 to 0.87 (the sample 0.968 to 0.980, Motorcycle shifted +80 px 0.81 to 0.88), at the cost
of one more full-size SGBM (measured ~0.8x SGBM-64 at VGA: the stage 2.44x instead of 1.66x).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import cv2
import numpy as np

from sensorium.stages.depth import stereo

#: confidence is multiplied by this where the two matchers disagree: low enough that a checked
#: pixel the rank matcher contradicts ranks below a filled one it confirms (measured: those are
#: 22-26% and 9-17% bad on Motorcycle; 0.1 instead: AUC 0.866 rather than 0.869)
DISAGREE_FACTOR = 0.01


def rank_transform(grey: np.ndarray, radius: int = 2) -> np.ndarray:
    """Rank transform: per pixel, how many pixels of its (2r+1)^2 window are darker, scaled to 0..255.

    grey: (H, W) uint8. Returns (H, W) uint8 (edges replicated).
    """
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError(f"rank_transform: expected an (H, W) uint8 image, got {grey.shape} {grey.dtype}")
    if radius < 1:
        raise ValueError(f"rank_transform: expected radius >= 1, got {radius}")
    h, w = grey.shape
    padded = np.pad(grey, radius, mode="edge")
    count = np.zeros((h, w), np.uint8)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            # OpenCV's compare gives 255 (= -1 in uint8) where darker: subtracting it counts one
            np.subtract(count, cv2.compare(padded[dy:dy + h, dx:dx + w], grey, cv2.CMP_LT), out=count)
    n = (2 * radius + 1) ** 2 - 1
    return cv2.LUT(count, _scale_lut(n))


@lru_cache(maxsize=4)
def _scale_lut(n: int) -> np.ndarray:
    """count -> count * 255 // n as uint8, for counts 0..n (a lookup table: cheaper than the arithmetic)."""
    return np.minimum(np.arange(256) * 255 // n, 255).astype(np.uint8)


def rank_disparity(left: np.ndarray, right: np.ndarray, params: stereo.SGBMParams) -> np.ndarray:
    """SGBM over the same range on rank-transformed grey images: (H, W) float32, -1 unknown.

    Without the uniqueness test and the speckle filter, so it answers nearly everywhere: the
    point is a second opinion, not a measurement.
    """
    grey_l, grey_r = stereo.to_grey(left), stereo.to_grey(right)
    p = replace(params, uniqueness_ratio=0, speckle_window=0, use_colour=False)
    return stereo.compute_disparity(rank_transform(grey_l), rank_transform(grey_r), p)


def cross_check(maps: stereo.StereoMaps, left: np.ndarray, right: np.ndarray, params: stereo.SGBMParams,
                tolerance: float = 1.0) -> tuple[stereo.StereoMaps, np.ndarray]:
    """``maps`` with confidence cut by :data:`DISAGREE_FACTOR` where the rank matcher disagrees.

    left, right: the rectified pair ``maps`` was matched on ((H, W, 3) or (H, W) uint8). Returns
    the new maps and ``agreed``: (H, W) bool, output disparity within ``tolerance`` px of the
    rank matcher's.
    """
    other = rank_disparity(left, right, params)
    disp = maps.disparity
    agreed = (other > 0) & (disp > 0) & (np.abs(disp - other) <= tolerance)
    conf = np.where(agreed, maps.confidence, maps.confidence * np.float32(DISAGREE_FACTOR)).astype(np.float32)
    return replace(maps, confidence=conf), agreed
