"""Edge-aware smoothing of disparity maps: the WLS idea, without OpenCV's contrib.

OpenCV's ``ximgproc.DisparityWLSFilter`` (contrib, which this project does not ship) smooths a
disparity map with a weighted-least-squares energy whose smoothness weights fall off across
image edges, weighting each input pixel by its confidence, so holes fill from their
neighbours on the same side of an edge. This implements that with the fast global smoother of
Min et al., "Fast Global Image Smoothing Based on Weighted Least Squares" (IEEE TIP 2014): the
2-D WLS problem is approximated by alternating 1-D problems along rows and columns, each a
symmetric positive-definite tridiagonal system solved exactly in O(N) (LAPACK ``?ptsv``), with
lambda decreasing over the iterations. The confidence-normalised form (filter ``d * c`` and
``c``, divide) is the one DisparityWLSFilter uses.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack


def _rows_pass(guide: np.ndarray, rhs: np.ndarray, lam: float, sigma: float) -> np.ndarray:
    """Solve (I + lam * L_w) u = rhs along every row at once. guide (H, W) float32; rhs (H, W, K)."""
    h, w = guide.shape
    off = np.zeros((h, w), np.float32)  # weight of the link x -> x + 1; 0 ends each row's chain
    off[:, :-1] = np.float32(lam) * np.exp(-np.abs(np.diff(guide, axis=1)) / np.float32(sigma))
    diag = 1.0 + off
    diag[:, 1:] += off[:, :-1]
    d, e = diag.ravel(), -off.ravel()[:-1]
    out = np.empty_like(rhs)
    for k in range(rhs.shape[2]):
        _, _, x, info = lapack.sptsv(d, e, np.ascontiguousarray(rhs[:, :, k]).ravel())
        if info != 0:  # cannot happen: the matrix is diagonally dominant
            raise RuntimeError(f"edge filter: tridiagonal solve failed (LAPACK info {info})")
        out[:, :, k] = x.reshape(h, w)
    return out


def wls_filter(guide: np.ndarray, disparity: np.ndarray, confidence: np.ndarray, *, lam: float = 30.0,
               sigma: float = 8.0, iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Confidence-weighted, edge-aware smoothing and hole filling of a disparity map.

    guide: (H, W) uint8 grey left image; disparity: (H, W) float32 (``<= 0`` unknown);
    confidence: (H, W) float32 in [0, 1] (0 where unknown). ``lam``: smoothness strength
    (larger spreads further into holes), ``sigma``: grey-level difference at which an image
    edge stops the spread. Returns ``(filtered, support)``: (H, W) float32 disparity and the
    filtered confidence mass behind each pixel ((H, W) float32; ~0 where nothing reached it,
    and the disparity there is -1).
    """
    if guide.shape != disparity.shape or confidence.shape != disparity.shape:
        raise ValueError(f"wls_filter: expected guide, disparity and confidence of one (H, W) shape, got "
                         f"{guide.shape}, {disparity.shape}, {confidence.shape}")
    if lam <= 0 or sigma <= 0 or iterations < 1:
        raise ValueError(f"wls_filter: expected lam > 0, sigma > 0, iterations >= 1, got {lam}, {sigma}, {iterations}")
    g = guide.astype(np.float32)
    gt = np.ascontiguousarray(g.T)
    c = np.where(disparity > 0, confidence, 0).astype(np.float32)
    rhs = np.stack([np.maximum(disparity, 0) * c, c], axis=-1).astype(np.float32)
    for t in range(iterations):
        # Min et al.'s schedule: lambda_t = 1.5 * 4^(T-t-1) / (4^T - 1) * lambda
        lt = lam * 1.5 * 4 ** (iterations - t - 1) / (4**iterations - 1)
        rhs = _rows_pass(g, rhs, lt, sigma)
        rhs = np.ascontiguousarray(_rows_pass(gt, np.ascontiguousarray(rhs.transpose(1, 0, 2)), lt, sigma).transpose(1, 0, 2))
    support = rhs[:, :, 1]
    out = np.where(support > 1e-3, rhs[:, :, 0] / np.maximum(support, 1e-6), -1.0).astype(np.float32)
    return out, support.astype(np.float32)
