"""Tracks: each track's id (and name, for a face track) and the short trail its box has left.

The trail is remembered here, in image pixels, because a track's own ``trajectory`` is in
metres and only exists when depth ran. So a :class:`TraceAnnotator` has state: use one per
source, frames in order (the frame annotator keeps one per source).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from sensorium.pipeline.draw.boxes import LOST
from sensorium.pipeline.draw.style import ColorLookup, label, pick_colors, pt, style_for
from sensorium.stages.results import Tracks


def track_text(tracks: Tracks, i: int) -> str:
    """``#7``, or ``#7 ada`` for a face track with a voted name."""
    names = tracks.data.get("name")
    name = None if names is None else names[i]
    return f"#{int(tracks.track_id[i])}" if name is None or str(name) == "" else f"#{int(tracks.track_id[i])} {name}"


@dataclass
class TraceAnnotator:
    """Per track: its trail (the bottom centre of its box over the last ``tail`` frames, a line
    that thickens towards now) and an id tag under its box's bottom-left corner, coloured by
    track id (``color_by``). A track unseen for ``tail`` frames is forgotten."""

    tail: int = 30
    color_by: ColorLookup = ColorLookup.TRACK
    _trails: dict[int, deque[tuple[int, int]]] = field(default_factory=dict, repr=False)
    _last_seen: dict[int, int] = field(default_factory=dict, repr=False)
    _frame: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.tail < 1:
            raise ValueError(f"TraceAnnotator.tail: expected >= 1 frames, got {self.tail}")

    def annotate(self, image: np.ndarray, tracks: Tracks) -> np.ndarray:
        """Remember this frame's positions, then draw on ``image`` ((H, W, 3) uint8 RGB, in place); returns it."""
        self._remember(tracks)
        st = style_for(image)
        colors = pick_colors(self.color_by, len(tracks), tracks.class_id, tracks.track_id)
        for i, color in enumerate(colors):
            trail = self._trails.get(int(tracks.track_id[i]))
            if trail is not None and len(trail) > 1:
                pts = list(trail)
                for k in range(1, len(pts)):  # older segments thinner: the direction of travel reads at a glance
                    width = max(1, round(st.thickness * (0.5 + k / len(pts))))
                    cv2.line(image, pts[k - 1], pts[k], color, width, cv2.LINE_AA)
            box = tracks.boxes[i]
            if np.isfinite(box).all():
                if int(tracks.state[i]) == LOST:
                    cv2.rectangle(image, pt(box[:2]), pt(box[2:]), color, 1)
                label(image, track_text(tracks, i), pt((box[0], box[3])), color, st, below=True)
        return image

    def _remember(self, tracks: Tracks) -> None:
        self._frame += 1
        for i, tid in enumerate(tracks.track_id.tolist()):
            box = tracks.boxes[i]
            if not np.isfinite(box).all():
                continue
            trail = self._trails.setdefault(tid, deque(maxlen=self.tail))
            trail.append(pt(((box[0] + box[2]) / 2, box[3])))
            self._last_seen[tid] = self._frame
        for tid in [t for t, seen in self._last_seen.items() if self._frame - seen >= self.tail]:
            del self._trails[tid], self._last_seen[tid]
