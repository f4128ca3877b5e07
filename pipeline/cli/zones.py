"""``run``'s ``--zone`` and ``--line`` options: text → the zones stage's options, checked at the edge.

``--zone SOURCE:NAME=x1,y1,x2,y2,x3,y3[,...]`` and ``--line SOURCE:NAME=x1,y1,x2,y2``: pixels,
or fractions of the image when every number is in 0..1. ``SOURCE:`` may be left out when the
run has one source. They add to the zones and lines a pipeline YAML gives the ``zones`` stage,
and add that stage (after ``track``) when the run does not list it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from sensorium.stages.config import ConfigError


def parse_geometry(text: str, option: str, source_ids: Sequence[str]) -> tuple[str, str, list[float]]:
    """``SOURCE:NAME=numbers`` → (source id, name, numbers); ConfigError saying what was expected."""
    head, eq, numbers = text.rpartition("=")
    if not eq or not head:
        raise ConfigError(f"{option}: expected SOURCE:NAME=x1,y1,..., got {text!r}")
    sid, colon, name = head.rpartition(":")
    if not colon:
        if len(source_ids) != 1:
            raise ConfigError(f"{option} {text!r}: name the source (SOURCE:NAME=...), this run has {len(source_ids)}: {', '.join(source_ids)}")
        sid = source_ids[0]
    if not name.strip():
        raise ConfigError(f"{option} {text!r}: the zone or line needs a name (SOURCE:NAME=...)")
    if sid not in source_ids:
        raise ConfigError(f"{option} {text!r}: source {sid!r} is not in this run (sources: {', '.join(source_ids)})")
    try:
        values = [float(v) for v in numbers.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected comma-separated numbers after '=', got {numbers!r}") from None
    return sid, name.strip(), values


def zone_options(zones: Sequence[str], lines: Sequence[str], source_ids: Sequence[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The zones stage's ``zones`` and ``lines`` options from ``--zone``/``--line`` texts."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {"zones": {}, "lines": {}}
    for text in zones:
        sid, name, v = parse_geometry(text, "--zone", source_ids)
        if len(v) % 2 or len(v) < 6:
            raise ConfigError(f"--zone {text!r}: a polygon needs at least 3 x,y pairs, got {len(v)} number(s)")
        out["zones"].setdefault(sid, []).append({"name": name, "polygon": [v[i:i + 2] for i in range(0, len(v), 2)]})
    for text in lines:
        sid, name, v = parse_geometry(text, "--line", source_ids)
        if len(v) != 4:
            raise ConfigError(f"--line {text!r}: expected x1,y1,x2,y2 (4 numbers), got {len(v)}")
        out["lines"].setdefault(sid, []).append({"name": name, "start": v[:2], "end": v[2:]})
    return out


def with_zones(cfg: Any, zones: Sequence[str], lines: Sequence[str], source_ids: Sequence[str]) -> Any:
    """``cfg`` (a PipelineConfig) with the command line's zones and lines added to the zones
    stage's (the stage appended when absent); every zone and line validated, and every source id
    they name checked against the run's. ConfigError (a ValueError) naming what is wrong."""
    from sensorium.pipeline.stream.config import StageSpec

    if zones or lines:
        extra = zone_options(zones, lines, list(source_ids))
        if "zones" not in [s.name for s in cfg.stages]:
            cfg = replace(cfg, stages=(*cfg.stages, StageSpec("zones")))
        spec = next(s for s in cfg.stages if s.name == "zones")
        merged = {}
        for key in ("zones", "lines"):
            have = {sid: list(items) for sid, items in dict(spec.options.get(key) or {}).items()}
            for sid, items in extra[key].items():
                have[sid] = [*have.get(sid, []), *items]
            merged[key] = have
        cfg = cfg.with_stage_options("zones", **merged)
    for spec in cfg.stages:
        if spec.name == "zones":
            spec.config.check_sources(source_ids)
    return cfg
