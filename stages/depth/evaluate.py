"""Disparity accuracy against ground truth: end-point error, bad-pixel rates, coverage.

Pure numpy, the Middlebury conventions: errors are over pixels that have ground truth (finite
and > 0) *and* an estimate (> 0); coverage is the share of ground-truth pixels with an
estimate, so a method cannot look accurate by answering only where it is easy without the
coverage saying so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class DisparityScores:
    """epe: mean |d - gt| (px); bad1/bad2/bad4: share of those errors > 1, 2, 4 px;
    coverage: share of ground-truth pixels with an estimate; pixels: ground-truth pixels."""

    epe: float
    bad1: float
    bad2: float
    bad4: float
    coverage: float
    pixels: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def evaluate_disparity(disparity: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> DisparityScores:
    """Score ``disparity`` against ``gt``.

    disparity: (H, W) float32 pixels, ``<= 0`` or non-finite where unknown. gt: (H, W) float
    pixels, non-finite or ``<= 0`` where unknown (Middlebury's inf, a PNG's 0). mask: optional
    (H, W) bool region to score (e.g. non-occluded pixels). Raises ValueError on a shape
    mismatch or when no pixel has ground truth.
    """
    disparity, gt = np.asarray(disparity), np.asarray(gt)
    if disparity.ndim != 2 or disparity.shape != gt.shape:
        raise ValueError(f"disparity {disparity.shape} and ground truth {gt.shape}: expected two (H, W) maps of one size")
    known = np.isfinite(gt) & (gt > 0)
    if mask is not None:
        if mask.shape != gt.shape:
            raise ValueError(f"mask {mask.shape} does not match the ground truth {gt.shape}")
        known &= mask.astype(bool)
    n = int(known.sum())
    if n == 0:
        raise ValueError("ground truth has no valid pixel (all non-finite or <= 0)")
    est = known & np.isfinite(disparity) & (disparity > 0)
    err = np.abs(disparity[est].astype(np.float64) - gt[est])
    if err.size == 0:
        return DisparityScores(float("nan"), float("nan"), float("nan"), float("nan"), 0.0, n)
    return DisparityScores(float(err.mean()), float((err > 1).mean()), float((err > 2).mean()), float((err > 4).mean()),
                           float(est.sum() / n), n)
