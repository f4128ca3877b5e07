"""Polygon zones: validation, point-in-polygon, and the count of tracks inside, entering, leaving."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sensorium.stages.zones.crossing import SideChanges


def _segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    """Whether segments p1-p2 and q1-q2 share a point (touching counts)."""

    def orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    def on(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> bool:  # c on segment a-b, given collinear
        return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])

    d1, d2, d3, d4 = orient(q1, q2, p1), orient(q1, q2, p2), orient(p1, p2, q1), orient(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0) and d1 != 0 and d2 != 0) and ((d3 > 0) != (d4 > 0) and d3 != 0 and d4 != 0):
        return True
    return (d1 == 0 and on(q1, q2, p1)) or (d2 == 0 and on(q1, q2, p2)) or (d3 == 0 and on(p1, p2, q1)) or (d4 == 0 and on(p1, p2, q2))


def check_polygon(points: Sequence[Sequence[float]], name: str = "polygon") -> np.ndarray:
    """(K, 2) float64 vertices, or a ValueError naming ``name`` and what is wrong: fewer than 3
    points, a non-finite coordinate, no area, or edges that cross (a self-intersecting polygon
    has no single inside)."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name}: expected a list of [x, y] points, got shape {p.shape}")
    if len(p) >= 2 and np.array_equal(p[0], p[-1]):
        p = p[:-1]  # a closed ring's repeated first point
    if len(p) < 3:
        raise ValueError(f"{name}: a polygon needs at least 3 points, got {len(p)}")
    if not np.isfinite(p).all():
        raise ValueError(f"{name}: coordinates must be finite numbers, got {p.tolist()}")
    k = len(p)
    for i in range(k):
        for j in range(i + 1, k):
            if j == i + 1 or (i == 0 and j == k - 1):
                continue  # neighbouring edges share a vertex
            if _segments_cross(p[i], p[(i + 1) % k], p[j], p[(j + 1) % k]):
                raise ValueError(f"{name}: the polygon intersects itself (edge {i}-{(i + 1) % k} crosses edge {j}-{(j + 1) % k}): "
                                 "list its points in order around its boundary")
    x, y = p[:, 0], p[:, 1]
    if abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2 <= 0:
        raise ValueError(f"{name}: the polygon has no area (its points are collinear or repeated): {p.tolist()}")
    return p


def contains(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K, 2) polygon, (..., 2) points in the same pixels → (...) bool, inside by the even-odd
    rule (a point exactly on an edge may fall either side; anchors are never that exact)."""
    pts = np.asarray(points, np.float64)
    x, y = pts[..., 0, None], pts[..., 1, None]  # (..., 1)
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    straddles = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return (np.count_nonzero(straddles & (x < x_cross), axis=-1) % 2) == 1


class PolygonZone:
    """One zone's counts along one source's tracks (supervision's ``PolygonZone`` plus entries
    and exits). ``polygon``: (K, 2) pixels. A track is inside when all its anchors are."""

    def __init__(self, name: str, polygon: np.ndarray, min_frames: int = 1) -> None:
        self.name, self.polygon = name, check_polygon(polygon, name)
        self.sides = SideChanges(min_frames)
        self.entered = self.left = 0

    def update(self, track_ids: np.ndarray, anchors: np.ndarray, seen: np.ndarray) -> tuple[list[int], list[int], list[int]]:
        """One frame: ``track_ids`` (N,) every live track, ``anchors`` (N, A, 2) pixels, ``seen``
        (N,) bool, False for a lost (predicted) track, which keeps its last observed side.
        Returns (track ids inside now, ids that entered at this frame, ids that left)."""
        inside_now = contains(self.polygon, anchors).all(axis=-1) if len(track_ids) else np.zeros(0, bool)
        entered, left = [], []
        for tid, inside, ok in zip(track_ids.tolist(), inside_now.tolist(), seen.tolist()):
            change = self.sides.observe(tid, int(inside)) if ok else None
            if change == (0, 1):
                entered.append(tid)
            elif change == (1, 0):
                left.append(tid)
        self.sides.keep_only(track_ids.tolist())
        self.entered += len(entered)
        self.left += len(left)
        return [t for t in track_ids.tolist() if self.sides.side(t) == 1], entered, left
