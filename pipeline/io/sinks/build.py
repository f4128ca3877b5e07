"""Sinks by name: the registry of sink kinds and ``build_sinks``, which hands each its options."""

from __future__ import annotations

import dataclasses
import inspect
import os
from typing import Any, Iterable

from sensorium.pipeline.io.sinks.base import BaseSink
from sensorium.pipeline.io.sinks.jsonl import JsonlSink
from sensorium.pipeline.io.sinks.npz import NpzSink
from sensorium.pipeline.io.sinks.ply import PlySink
from sensorium.pipeline.io.sinks.rerun import RerunSink
from sensorium.pipeline.io.sinks.tsdf import TsdfSink
from sensorium.pipeline.io.sinks.video import VideoSink

#: sink name → class, in the order ``build_sinks`` documents
SINKS: dict[str, type[BaseSink]] = {cls.name: cls for cls in (JsonlSink, NpzSink, VideoSink, PlySink, TsdfSink, RerunSink)}


def split_sink_sets(sets: Iterable[str]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """``--set`` entries apart: those whose first part names a sink (``rerun.serve=true``) as
    ``{sink: {option: value}}``, values read as YAML scalars (true, 9090, text), and the rest
    (the stages' options) as given."""
    import yaml

    rest: list[str] = []
    per_sink: dict[str, dict[str, Any]] = {}
    for entry in sets:
        key, eq, value = entry.partition("=")
        sink, dot, option = key.strip().partition(".")
        if eq and dot and sink in SINKS:
            if not option or "." in option:
                raise ValueError(f"--set {entry}: expected SINK.OPTION=VALUE")
            per_sink.setdefault(sink, {})[option.strip()] = yaml.safe_load(value)
        else:
            rest.append(entry)
    return rest, per_sink


def build_sinks(names: str | Iterable[str], out_dir: str | os.PathLike[str], *, sink_options: dict[str, dict[str, Any]] | None = None,
                **opts: Any) -> list[BaseSink]:
    """Sinks by name (``"jsonl,npz,video,ply,tsdf,rerun"`` or a list), all writing under ``out_dir``.

    Each option goes to every selected sink whose constructor takes it (``fps`` → video,
    ``voxel_length`` → tsdf, ...); options meant for unselected sinks are ignored, options no
    sink knows raise ValueError. The jsonl sink names the npz files when the npz sink is built
    too (unless ``npz_names`` is given). ``sink_options``: options for one sink by name
    (``{"rerun": {"serve": True}}``, from :func:`split_sink_sets`), over ``opts``; naming a sink
    that is not selected, or an option it does not take, raises ValueError.
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    wanted = [n for n in names if n]
    unknown = [n for n in wanted if n not in SINKS]
    if unknown:
        raise ValueError(f"unknown sink(s) {', '.join(map(repr, unknown))}; known: {', '.join(SINKS)}")
    duplicates = sorted({n for n in wanted if wanted.count(n) > 1})
    if duplicates:
        raise ValueError(f"sink(s) listed twice: {', '.join(duplicates)}")
    params = {name: _option_names(cls) for name, cls in SINKS.items()}
    known = set().union(*params.values())
    stray = sorted(set(opts) - known)
    if stray:
        raise ValueError(f"unknown sink option(s) {', '.join(stray)}; known: {', '.join(sorted(known))}")
    for name, options in (sink_options or {}).items():
        if name not in wanted:
            raise ValueError(f"--set {name}.{next(iter(options), '')}: the {name} sink is not in this run's sinks ({', '.join(wanted)})")
        stray = sorted(set(options) - params[name])
        if stray:
            raise ValueError(f"unknown {name} sink option(s) {', '.join(stray)}; known: {', '.join(sorted(params[name])) or 'none'}")
    sinks: list[BaseSink] = []
    try:
        for name in wanted:
            kwargs = {k: v for k, v in opts.items() if k in params[name]} | (sink_options or {}).get(name, {})
            if name == "jsonl":
                kwargs.setdefault("npz_names", "npz" in wanted)
            sinks.append(SINKS[name](out_dir, **_grouped(SINKS[name], kwargs)))
    except Exception:
        for sink in sinks:  # don't leak the files the earlier sinks opened
            sink.close()
        raise
    return sinks


def _option_names(cls: type[BaseSink]) -> set[str]:
    """What a sink takes: its constructor's parameters, and the fields of each config it takes
    as one parameter (``option_groups``: the video sink's ``draw`` → ``color_by``, ``labels``, ...)."""
    names = set(inspect.signature(cls.__init__).parameters) - {"self", "out_dir"}
    for config in getattr(cls, "option_groups", {}).values():
        names |= {f.name for f in dataclasses.fields(config)}
    return names


def _grouped(cls: type[BaseSink], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the fields of each option group packed into its config (built once
    here, at the edge: a bad value raises now, naming the field)."""
    out = dict(kwargs)
    for param, config in getattr(cls, "option_groups", {}).items():
        fields = {f.name for f in dataclasses.fields(config)}
        picked = {k: out.pop(k) for k in list(out) if k in fields}
        if picked:
            if param in out:
                raise ValueError(f"{cls.name} sink: give {param} or its fields ({', '.join(sorted(picked))}), not both")
            out[param] = config(**picked)
    return out
