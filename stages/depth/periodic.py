"""A guard against periodic texture for the full-size LR check.

On a repeating pattern (a chessboard, tiles, railings) SGBM can match a pixel to the pattern's
next repeat, and at full size the mirrored match makes the same mistake, so the round trip is
consistent and the LR check passes the wrong match (#18's chessboard: matches two squares off).
The half-size check matches a different period and disagrees. Where the two checks disagree,
the full-size verdict is kept only if the left image does *not* repeat itself along the row
within the search range: if some shift of at least :data:`MIN_SHIFT` px reproduces the pixel's
window about as well as its stereo match does (self-match cost <= :data:`FACTOR` x the match's,
plus one grey level of noise), a repeat could match as well, and the pixel counts as rejected.
The factor was chosen as the weakest that keeps the chessboard's colours apart, checked on
held-out layered pairs (docs/benchmarks.md, #15 seventh round).

Pure numpy on (H, W) uint8 images and float32 disparities (stereo.py's conventions).
"""

from __future__ import annotations

import numpy as np

#: self-shifts smaller than this are a surface's own smoothness, not a repeat
MIN_SHIFT = 8
#: window: 3 rows x (2 * RADIUS + 1) columns
RADIUS = 3
#: pixels per vectorised chunk (bounds the memory of the shift x window array)
CHUNK = 1024
#: a repeat counts when its cost is <= FACTOR x the stereo match's (+ 1 grey level); 1, 2 and 4
#: kept the chessboard apart alike, 1 keeps the most elsewhere (docs/benchmarks.md)
FACTOR = 1.0


def _windows(padded: np.ndarray, ys: np.ndarray, xs: np.ndarray, width: int) -> np.ndarray:
    """(K, 3, width) int16 strips of ``padded`` centred on (ys, xs) (already in padded coordinates)."""
    rows = ys[:, None] + np.arange(-1, 2)[None, :]  # (K, 3)
    cols = xs[:, None] + np.arange(width)[None, :] - width // 2  # (K, width)
    return padded[rows[:, :, None], cols[:, None, :]].astype(np.int16)


def repeats(left: np.ndarray, right: np.ndarray, disparity: np.ndarray, ys: np.ndarray, xs: np.ndarray,
            max_shift: int, factor: float | None = None) -> np.ndarray:
    """Per pixel (ys, xs): does the left image repeat along the row within ``max_shift`` px about as
    well as the pixel matches the right image at ``disparity``? (K,) bool.

    left, right: (H, W) uint8 rectified grey pair; disparity: (H, W) float32 of the left view;
    factor: :data:`FACTOR` when None.
    """
    factor = FACTOR if factor is None else factor
    if left.ndim != 2 or left.shape != right.shape or disparity.shape != left.shape:
        raise ValueError(f"repeats: expected two (H, W) grey images and an (H, W) disparity, got {left.shape}, {right.shape}, {disparity.shape}")
    out = np.zeros(ys.size, bool)
    if ys.size == 0 or max_shift < MIN_SHIFT:
        return out
    pad = max_shift + RADIUS + 1
    pl = np.pad(left, ((1, 1), (pad, pad)), mode="edge")
    pr = np.pad(right, ((1, 1), (pad, pad)), mode="edge")
    k = 2 * RADIUS + 1
    shifts = np.arange(-max_shift, max_shift + 1)
    far = np.abs(shifts) >= MIN_SHIFT
    for start in range(0, ys.size, CHUNK):
        y, x = ys[start:start + CHUNK] + 1, xs[start:start + CHUNK] + pad
        patch = _windows(pl, y, x, k)  # (K, 3, k)
        xr = x - np.rint(disparity[ys[start:start + CHUNK], xs[start:start + CHUNK]]).astype(np.int64)
        own = np.abs(_windows(pr, y, xr, k) - patch).mean(axis=(1, 2))
        strip = _windows(pl, y, x, 2 * max_shift + k)  # (K, 3, 2 max_shift + k)
        views = np.lib.stride_tricks.sliding_window_view(strip, k, axis=2)  # (K, 3, 2 max_shift + 1, k)
        cost = np.abs(views - patch[:, :, None, :]).sum(axis=(1, 3)) / np.float32(3 * k)  # (K, shifts)
        best = cost[:, far].min(axis=1)
        out[start:start + CHUNK] = best <= factor * own + 1.0
    return out
