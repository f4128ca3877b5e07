"""The ``zones`` stage: counts a source's tracks in polygon zones and across lines, frame by frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sensorium.stages.base import Stage
from sensorium.stages.frame import Frame
from sensorium.stages.results.tracks import TRACKED, Tracks
from sensorium.stages.results.zones import LineTally, ZoneCounts, ZoneTally
from sensorium.stages.zones.anchors import anchor_points
from sensorium.stages.zones.config import ZonesConfig
from sensorium.stages.zones.line import LineCounter
from sensorium.stages.zones.polygon import PolygonZone


@dataclass
class _SourceCounters:
    """One source's zones and lines, in pixels of the image size they were made for."""

    size: tuple[int, int]
    zones: list[PolygonZone] = field(default_factory=list)
    lines: list[LineCounter] = field(default_factory=list)


class ZonesStage(Stage):
    """Ordered: its counts are transitions of each track between one source's frames, so the
    engine runs one instance per source, on its frames in capture order."""

    name = "zones"
    requires = ("track",)
    ordered = True
    Config = ZonesConfig

    def __init__(self, config: ZonesConfig | None = None) -> None:
        super().__init__(config)
        self.requires = (self.config.tracks,)
        self._sources: dict[str, _SourceCounters] = {}

    def _counters(self, frame: Frame) -> _SourceCounters:
        h, w = frame.image.shape[:2]
        state = self._sources.get(frame.source_id)
        if state is None:
            zones, lines = self.config.for_source(frame.source_id)
            k = self.config.min_frames
            state = _SourceCounters((w, h), [PolygonZone(z.name, z.pixels(w, h), k) for z in zones],
                                    [LineCounter(ln.name, *ln.pixels(w, h), k) for ln in lines])
            self._sources[frame.source_id] = state
        elif state.size != (w, h):
            raise ValueError(f"the image changed size from {state.size[0]}x{state.size[1]} to {w}x{h} in one source; "
                             "zones and lines are in pixels of the first frame")
        return state

    def check(self, frame: Frame) -> None:
        super().check(frame)
        got = frame.results[self.config.tracks]
        if not isinstance(got, Tracks):
            raise ValueError(f"expected the {self.config.tracks!r} result to be Tracks, got {type(got).__name__}")

    def process(self, frames: Sequence[Frame]) -> list[ZoneCounts]:
        return [self._count(f) for f in frames]

    def _count(self, frame: Frame) -> ZoneCounts:
        tracks: Tracks = frame.results[self.config.tracks]
        state = self._counters(frame)
        ids, seen = tracks.track_id, tracks.state == TRACKED
        zones = []
        if state.zones:
            anchors = anchor_points(tracks.boxes, self.config.anchor)
            for zone in state.zones:
                inside, entered, left = zone.update(ids, anchors, seen)
                zones.append(ZoneTally(zone.name, inside, zone.entered, zone.left, entered, left, tuple(map(tuple, zone.polygon))))
        lines = []
        if state.lines:
            anchors = anchor_points(tracks.boxes, self.config.line_anchors)
            for line in state.lines:
                crossed_in, crossed_out = line.update(ids, anchors, seen)
                lines.append(LineTally(line.name, line.in_count, line.out_count, crossed_in, crossed_out,
                                       tuple(line.start), tuple(line.end)))
        return ZoneCounts(tuple(zones), tuple(lines), of=self.config.tracks)
