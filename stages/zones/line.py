"""Counting lines: which side of a directed line a box is on, and the crossings of tracks."""

from __future__ import annotations

import numpy as np

from sensorium.stages.zones.crossing import SideChanges

#: a box's side of a line: every anchor left of start → end as drawn on screen ("in"), every anchor right ("out")
IN, OUT = 1, -1


def line_sides(start: np.ndarray, end: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(N, A, 2) anchor pixels → (N,) int: ``IN`` when every anchor is on the left of the
    directed line start → end as seen on screen (image y down; supervision's "in"), ``OUT``
    when every anchor is on its right, 0 when the box straddles the line or an anchor is beyond
    the perpendiculars through its ends (a box passing beside a short line does not cross it)."""
    s, e = np.asarray(start, np.float64), np.asarray(end, np.float64)
    d = e - s
    length2 = float(d @ d)
    if length2 == 0:
        raise ValueError(f"line: start and end are the same point {s.tolist()}")
    rel = np.asarray(anchors, np.float64) - s  # (N, A, 2)
    cross = d[0] * rel[..., 1] - d[1] * rel[..., 0]
    along = (rel @ d) / length2
    within = ((along >= 0) & (along <= 1)).all(axis=-1)
    left, right = (cross < 0).all(axis=-1), (cross > 0).all(axis=-1)
    return np.where(within & left, IN, np.where(within & right, OUT, 0)).astype(np.int64)


class LineCounter:
    """One line's crossings along one source's tracks (supervision's ``LineZone``): a track
    crosses when its whole box (every anchor, the four corners by default) is seen on the other
    side for ``min_frames`` observations in a row; frames where it straddles the line or is
    lost (predicted) are not observations, so jitter on the line and a coasting prediction
    never count."""

    def __init__(self, name: str, start: np.ndarray, end: np.ndarray, min_frames: int = 1) -> None:
        self.name = name
        self.start, self.end = np.asarray(start, np.float64), np.asarray(end, np.float64)
        if np.array_equal(self.start, self.end):
            raise ValueError(f"{name}: a line needs two distinct points, got {self.start.tolist()} twice")
        self.sides = SideChanges(min_frames)
        self.in_count = self.out_count = 0

    def update(self, track_ids: np.ndarray, anchors: np.ndarray, seen: np.ndarray) -> tuple[list[int], list[int]]:
        """One frame (see :meth:`PolygonZone.update`); returns (ids crossing in, ids crossing out)."""
        sides = line_sides(self.start, self.end, anchors) if len(track_ids) else np.zeros(0, np.int64)
        crossed_in, crossed_out = [], []
        for tid, side, ok in zip(track_ids.tolist(), sides.tolist(), seen.tolist()):
            change = self.sides.observe(tid, side) if ok and side != 0 else None
            if change == (OUT, IN):
                crossed_in.append(tid)
            elif change == (IN, OUT):
                crossed_out.append(tid)
        self.sides.keep_only(track_ids.tolist())
        self.in_count += len(crossed_in)
        self.out_count += len(crossed_out)
        return crossed_in, crossed_out
