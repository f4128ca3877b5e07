"""The zones stage's typed config: zones and lines per source id, the anchors, the hysteresis.

Coordinates are image pixels, or fractions of the image's width and height when every
coordinate of a zone or line lies in 0..1 (a pixel zone that small would be meaningless), so
one config fits any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from sensorium.stages.config import ConfigError, StageConfig, config_from_dict
from sensorium.stages.zones.anchors import Anchor
from sensorium.stages.zones.polygon import check_polygon


#: the source id that stands for every source without zones or lines of its own
ANY = "*"


def _normalised(values: Any) -> bool:
    a = np.asarray(values, np.float64)
    return bool(a.size and (a >= 0).all() and (a <= 1).all())


@dataclass(frozen=True)
class ZoneSpec(StageConfig):
    """A polygon zone: ``name`` and ``polygon`` [[x, y], ...] (>= 3 points, not self-intersecting)."""

    name: str = ""
    polygon: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.name:
            raise ValueError("a zone needs a name")
        check_polygon(self.polygon, f"zone {self.name!r}")

    @property
    def normalised(self) -> bool:
        return _normalised(self.polygon)

    def pixels(self, width: int, height: int) -> np.ndarray:
        """(K, 2) float64 vertices in pixels of a width x height image."""
        p = check_polygon(self.polygon, self.name)
        return p * (width, height) if self.normalised else p


@dataclass(frozen=True)
class LineSpec(StageConfig):
    """A counting line: ``name``, ``start`` [x, y] and ``end`` [x, y]; "in" is a crossing onto its
    left as drawn on screen from start to end."""

    name: str = ""
    start: tuple[float, float] = (0.0, 0.0)
    end: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.name:
            raise ValueError("a line needs a name")
        if self.start == self.end:
            raise ValueError(f"line {self.name!r}: start and end are the same point {list(self.start)}")
        if not np.isfinite([*self.start, *self.end]).all():
            raise ValueError(f"line {self.name!r}: coordinates must be finite numbers")

    @property
    def normalised(self) -> bool:
        return _normalised([self.start, self.end])

    def pixels(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        scale = np.array([width, height], np.float64) if self.normalised else np.ones(2)
        return np.asarray(self.start, np.float64) * scale, np.asarray(self.end, np.float64) * scale


def _per_source(kind: type, values: Any, option: str) -> dict[str, tuple]:
    """``{source id: [spec mapping, ...]}`` → ``{source id: (spec, ...)}``, each validated."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{option}: expected a mapping of source id to a list of {kind.__name__} mappings, got {values!r}")
    out = {}
    for sid, items in values.items():
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{option}.{sid}: expected a list, got {items!r}")
        out[str(sid)] = tuple(i if isinstance(i, kind) else config_from_dict(kind, i, where=f"{option}.{sid}[{k}]") if isinstance(i, Mapping)
                              else _not_a_mapping(f"{option}.{sid}[{k}]", i) for k, i in enumerate(items))
    return out


def _not_a_mapping(option: str, value: Any) -> Any:
    raise ConfigError(f"{option}: expected a mapping with a name, got {value!r}")


@dataclass(frozen=True)
class ZonesConfig(StageConfig):
    """zones / lines: source id → its polygon zones / counting lines. anchor: the box point that
    decides whether a track is in a zone (default bottom-centre: where a person or a car meets
    the ground). line_anchors: the box points that must all be on one side of a line for the
    box to be on that side (default the four corners, as supervision: a box straddling the
    line is on neither side). min_frames: observations in a row on the new side before a
    change counts (1: at once; more rides out a box jittering across a line or zone edge).
    tracks: the stage whose Tracks result is counted (default ``track``). The source id ``"*"``
    stands for every source without zones or lines of its own (a ``/v1/streams`` request, whose
    source id the service assigns)."""

    zones: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, Any] = field(default_factory=dict)
    anchor: Anchor = "bottom_center"
    line_anchors: tuple[Anchor, ...] = ("top_left", "top_right", "bottom_left", "bottom_right")
    min_frames: int = 1
    tracks: str = "track"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "zones", _per_source(ZoneSpec, self.zones, "zones"))
        object.__setattr__(self, "lines", _per_source(LineSpec, self.lines, "lines"))
        if self.min_frames < 1:
            raise ValueError(f"min_frames: expected an integer >= 1, got {self.min_frames}")
        if not self.line_anchors:
            raise ValueError("line_anchors: name at least one anchor")
        for sid in set(self.zones) | set(self.lines):
            names = [z.name for z in self.zones.get(sid, ())] + [ln.name for ln in self.lines.get(sid, ())]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"source {sid!r}: zone/line name(s) {', '.join(dup)} used twice")

    def sources(self) -> set[str]:
        """The source ids this config names (``"*"``: any other)."""
        return set(self.zones) | set(self.lines)

    def for_source(self, source_id: str) -> tuple[tuple[ZoneSpec, ...], tuple[LineSpec, ...]]:
        """The zones and lines of ``source_id``: its own, else those under ``"*"``."""
        key = source_id if source_id in self.sources() else ANY
        return self.zones.get(key, ()), self.lines.get(key, ())

    def check_sources(self, source_ids: Any) -> None:
        """ConfigError naming any source id with zones or lines that is not in the run."""
        ids = list(source_ids)
        stray = sorted(self.sources() - set(ids) - {ANY})
        if stray:
            raise ConfigError(f"zones: source(s) {', '.join(repr(s) for s in stray)} not in this run (sources: {', '.join(ids)})")
