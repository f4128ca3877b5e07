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
    """IoU (N, M) float64 of boxes a (N, 4) and b (M, 4), ``x1, y1, x2, y2`` pixels; 0 for empty boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def gate_classes(cost: np.ndarray, track_class: np.ndarray, det_class: np.ndarray) -> np.ndarray:
    """``cost`` with pairs of different classes made infeasible (class-aware matching)."""
    return np.where(np.asarray(track_class)[:, None] == np.asarray(det_class)[None, :], cost, INFEASIBLE)


def linear_assignment(cost: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching keeping pairs with cost <= threshold.

    cost (N, M). Returns matches (K, 2) int64 (row, column), unmatched rows (N - K,) and
    unmatched columns (M - K,), each sorted ascending (deterministic for equal inputs).
    """
    cost = np.asarray(cost, np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), np.int64), np.arange(n), np.arange(m)
    rows, cols = linear_sum_assignment(cost)
    keep = cost[rows, cols] <= threshold
    matches = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
    return (matches, np.setdiff1d(np.arange(n), matches[:, 0]), np.setdiff1d(np.arange(m), matches[:, 1]))
