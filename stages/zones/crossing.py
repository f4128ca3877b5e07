"""The side-change rule zones and lines share: a track changes side when it has been observed
on the new side for ``min_frames`` consecutive observations; its first observation only sets
its side (it may have been there before the camera saw it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass
class _Side:
    side: int
    candidate: int | None = None
    seen: int = 0


class SideChanges:
    """Per-track confirmed side (any hashable value; None means "no observation") and the
    transitions it makes. Observations are what a track was *seen* doing: the caller leaves out
    a lost (predicted) track, so a prediction never counts, and a track that comes back on the
    other side after an occlusion counts once."""

    def __init__(self, min_frames: int = 1) -> None:
        if min_frames < 1:
            raise ValueError(f"min_frames: expected an integer >= 1, got {min_frames}")
        self.min_frames = min_frames
        self._tracks: dict[int, _Side] = {}

    def observe(self, track_id: int, side: int | None) -> tuple[int, int] | None:
        """Record one observation; (old side, new side) when it confirms a change, else None.
        ``side`` None (straddling a line, outside its reach) leaves the track as it was."""
        if side is None:
            return None
        state = self._tracks.get(track_id)
        if state is None:
            self._tracks[track_id] = _Side(side)
            return None
        if side == state.side:
            state.candidate, state.seen = None, 0
            return None
        if side != state.candidate:
            state.candidate, state.seen = side, 0
        state.seen += 1
        if state.seen < self.min_frames:
            return None
        old = state.side
        state.side, state.candidate, state.seen = side, None, 0
        return old, side

    def side(self, track_id: int) -> int | None:
        """The track's confirmed side, None before its first observation."""
        state = self._tracks.get(track_id)
        return None if state is None else state.side

    def keep_only(self, alive: Iterable[int]) -> None:
        """Forget the tracks the tracker has ended (their ids are never reused)."""
        alive = set(alive)
        for tid in [t for t in self._tracks if t not in alive]:
            del self._tracks[tid]
