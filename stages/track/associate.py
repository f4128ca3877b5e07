"""Matching tracks to detections: IoU costs, gates and the Hungarian solver.

Costs are ``1 - IoU`` (ByteTrack's); a pair that may not match (another class when matching is
class-aware, outside a 3-D gate) costs :data:`INFEASIBLE`, and the solver's pairs above the
threshold are dropped, so a gated pair is never matched however few others there are.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

#: the cost of a forbidden pair: above every threshold, finite so the solver stays well posed
INFEASIBLE = 1e6


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (N, M) float64 of boxes a (N, 4) and b (M, 4), ``x1, y1, x2, y2`` pixels; 0 for empty boxes.

    Only pairs whose x ranges can overlap are computed (a sweep over b sorted by x1, with the
    widest b box as reach): at 1000 tracks most pairs are far apart and cost nothing."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    out = np.zeros((len(a), len(b)))
    if not len(a) or not len(b):
        return out
    i, j = _x_candidates(a, b)
    iw = np.minimum(a[i, 2], b[j, 2]) - np.maximum(a[i, 0], b[j, 0])
    ih = np.minimum(a[i, 3], b[j, 3]) - np.maximum(a[i, 1], b[j, 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[i] + area_b[j] - inter
    out[i, j] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return out


def _x_candidates(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) that include every pair whose x ranges overlap: b's x1 lies in
    [a.x1 - widest b, a.x2)."""
    order = np.argsort(b[:, 0], kind="stable")
    bx1 = b[order, 0]
    reach = max(float((b[:, 2] - b[:, 0]).max()), 0.0)
    lo = np.searchsorted(bx1, a[:, 0] - reach, "left")
    hi = np.searchsorted(bx1, a[:, 2], "left")
    counts = np.maximum(hi - lo, 0)
    i = np.repeat(np.arange(len(a)), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return i, order[np.repeat(lo, counts) + offsets]


def gate_classes(cost: np.ndarray, track_class: np.ndarray, det_class: np.ndarray) -> np.ndarray:
    """``cost`` with pairs of different classes made infeasible (class-aware matching)."""
    return np.where(np.asarray(track_class)[:, None] == np.asarray(det_class)[None, :], cost, INFEASIBLE)


def linear_assignment(cost: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching keeping pairs with cost <= threshold.

    cost (N, M). Returns matches (K, 2) int64 (row, column), unmatched rows (N - K,) and
    unmatched columns (M - K,), each sorted ascending (deterministic for equal inputs).
    A row and a column that can only match each other (the usual case for a track in the clear)
    are matched directly; the Hungarian solver gets only the rest, where choices interact,
    which gives the same matching as solving the whole matrix at a fraction of the cost.
    """
    cost = np.asarray(cost, np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), np.int64), np.arange(n), np.arange(m)
    feasible = cost <= threshold
    row_deg, col_deg = feasible.sum(axis=1), feasible.sum(axis=0)
    r1 = np.flatnonzero(row_deg == 1)
    c1 = feasible[r1].argmax(axis=1)
    alone = col_deg[c1] == 1
    pairs = [np.stack([r1[alone], c1[alone]], axis=1)]
    rows = np.setdiff1d(np.flatnonzero(row_deg > 0), r1[alone])
    cols = np.setdiff1d(np.flatnonzero(col_deg > 0), c1[alone])
    if len(rows) and len(cols):
        sub = cost[np.ix_(rows, cols)]
        rr, cc = linear_sum_assignment(sub)
        keep = sub[rr, cc] <= threshold
        pairs.append(np.stack([rows[rr[keep]], cols[cc[keep]]], axis=1))
    matches = np.concatenate(pairs).astype(np.int64).reshape(-1, 2)
    matches = matches[np.argsort(matches[:, 0], kind="stable")]
    return (matches, np.setdiff1d(np.arange(n), matches[:, 0]), np.setdiff1d(np.arange(m), matches[:, 1]))
