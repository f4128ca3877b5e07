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

The self-match costs of all shifts are summed one window offset at a time over all pixels at
once (OpenCV absdiffs of the pixels' rows against one column): measured 8x (the sample) and 17x
(Motorcycle) faster than gathering every shift's window, with the same verdicts, bit for bit
(docs/benchmarks.md, #15 eighth round (b)).

Pure numpy/OpenCV on (H, W) uint8 images and float32 disparities (stereo.py's conventions).
"""

from __future__ import annotations

import cv2
import numpy as np

#: self-shifts smaller than this are a surface's own smoothness, not a repeat
MIN_SHIFT = 8
#: window: 3 rows x (2 * RADIUS + 1) columns
RADIUS = 3
#: pixels per pass (bounds the memory of the pixels x shifts sums: ~20 MB at 256 px of range)
CHUNK = 8192
#: a repeat counts when its cost is <= FACTOR x the stereo match's (+ 1 grey level); 1, 2 and 4
#: kept the chessboard apart alike, 1 keeps the most elsewhere (docs/benchmarks.md)
FACTOR = 1.0


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
    y, x = ys + 1, xs + pad
    xr = x - np.rint(disparity[ys, xs]).astype(np.int64)
    # (K,) mean absolute difference of the window to its stereo match's, as float64 (the sum of 21
    # small integers is exact, so this is numpy's mean of the windows bit for bit)
    lw, rw = (np.lib.stride_tricks.sliding_window_view(img, k, axis=1) for img in (pl, pr))  # [row, first column]
    own = sum(cv2.absdiff(lw[y + row, x - RADIUS], rw[y + row, xr - RADIUS]).sum(axis=1, dtype=np.int64) for row in (-1, 0, 1))
    own = own.astype(np.float64) / (3 * k)
    # per pixel, the sum of absolute differences of its window to the window at every shift
    # -max_shift..max_shift, accumulated one window offset at a time: (K, shifts) uint8 OpenCV
    # absdiffs of the pixels' 3 rows against the column at that offset
    c = max_shift + RADIUS  # the pixel's column in its strip
    n = 2 * max_shift + 1
    strips = np.lib.stride_tricks.sliding_window_view(pl, n + 2 * RADIUS, axis=1)  # [row, first column]
    best = np.empty(ys.size, np.uint16)
    for start in range(0, ys.size, CHUNK):
        yc, xc = y[start:start + CHUNK], x[start:start + CHUNK]
        cost = np.zeros((yc.size, n), np.uint16)  # 3 k x 255 fits
        for row in (-1, 0, 1):
            strip = strips[yc + row, xc - c]  # (chunk, n + 2 RADIUS)
            for i in range(k):
                column = np.repeat(strip[:, c - RADIUS + i:c - RADIUS + i + 1], n, axis=1)
                np.add(cost, cv2.absdiff(strip[:, i:i + n], column), out=cost)
        best[start:start + CHUNK] = np.minimum(cost[:, :max_shift - MIN_SHIFT + 1].min(axis=1), cost[:, max_shift + MIN_SHIFT:].min(axis=1))
    least = best.astype(np.int64) / np.float32(3 * k)
    return least <= factor * own + 1.0
