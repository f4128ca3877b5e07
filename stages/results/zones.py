"""Zone and line counts of one source at one frame (the ``zones`` stage's result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sensorium.stages.results.items import jsonable, unjson
from sensorium.stages.results.registry import register


def _ids(values: Any) -> tuple[int, ...]:
    return tuple(sorted(int(v) for v in values))


@dataclass(frozen=True)
class ZoneTally:
    """One polygon zone: ``inside`` the track ids whose anchor was last seen inside it (a lost
    track keeps its last observed side), ``entered``/``left`` the transitions counted since the
    run started, ``entered_now``/``left_now`` the track ids that made one at this frame.
    ``polygon``: the zone's (x, y) image pixels at this frame's size."""

    name: str
    inside: tuple[int, ...] = ()
    entered: int = 0
    left: int = 0
    entered_now: tuple[int, ...] = ()
    left_now: tuple[int, ...] = ()
    polygon: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("inside", "entered_now", "left_now"):
            object.__setattr__(self, name, _ids(getattr(self, name)))
        object.__setattr__(self, "polygon", tuple((float(x), float(y)) for x, y in self.polygon))
        if self.entered < 0 or self.left < 0:
            raise ValueError(f"ZoneTally {self.name!r}: counts must be >= 0, got entered={self.entered} left={self.left}")


@dataclass(frozen=True)
class LineTally:
    """One counting line: ``in_count``/``out_count`` crossings counted since the run started
    (in: onto the left of start → end as drawn on screen, as supervision's ``LineZone``), the
    track ids that crossed at this frame, and the line's (x, y) pixel ends at this frame's size."""

    name: str
    in_count: int = 0
    out_count: int = 0
    crossed_in: tuple[int, ...] = ()
    crossed_out: tuple[int, ...] = ()
    start: tuple[float, float] = (0.0, 0.0)
    end: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        for name in ("crossed_in", "crossed_out"):
            object.__setattr__(self, name, _ids(getattr(self, name)))
        object.__setattr__(self, "start", tuple(float(v) for v in self.start))
        object.__setattr__(self, "end", tuple(float(v) for v in self.end))
        if self.in_count < 0 or self.out_count < 0:
            raise ValueError(f"LineTally {self.name!r}: counts must be >= 0, got in={self.in_count} out={self.out_count}")


@register
@dataclass(frozen=True)
class ZoneCounts:
    """Every zone and line of one source at one frame, in configuration order: running totals
    (what a dashboard shows) and this frame's events (which track did what). ``of`` names the
    tracks result counted."""

    kind: ClassVar[str] = "zone_counts"
    zones: tuple[ZoneTally, ...] = ()
    lines: tuple[LineTally, ...] = ()
    of: str = "track"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zones", tuple(self.zones))
        object.__setattr__(self, "lines", tuple(self.lines))
        names = [z.name for z in self.zones] + [ln.name for ln in self.lines]
        if len(set(names)) != len(names):
            raise ValueError(f"ZoneCounts: zone and line names must be unique, got {names}")

    def __len__(self) -> int:
        return len(self.zones) + len(self.lines)

    def totals(self) -> dict[str, dict[str, dict[str, int]]]:
        """The running totals as plain numbers: ``{"zones": {name: {inside, entered, left}},
        "lines": {name: {in, out}}}`` (the run summary's per-source entry)."""
        return {"zones": {z.name: {"inside": len(z.inside), "entered": z.entered, "left": z.left} for z in self.zones},
                "lines": {ln.name: {"in": ln.in_count, "out": ln.out_count} for ln in self.lines}}

    def to_dict(self) -> dict[str, Any]:
        def plain(t: Any) -> dict[str, Any]:
            return {k: [list(p) for p in v] if k == "polygon" else list(v) if isinstance(v, tuple) else v for k, v in t.__dict__.items()}

        return {"kind": self.kind, "of": self.of, "zones": [plain(z) for z in self.zones], "lines": [plain(ln) for ln in self.lines],
                "metadata": jsonable(self.metadata)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ZoneCounts":
        return cls(zones=tuple(ZoneTally(**z) for z in d.get("zones", [])), lines=tuple(LineTally(**ln) for ln in d.get("lines", [])),
                   of=d.get("of", "track"), metadata=unjson(d.get("metadata", {})))
