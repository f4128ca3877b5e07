"""A stream as asked for (``StreamRequest``) and as it will run (``StreamSpec``): built once,
checked against the policy and every stage option built, before any actor starts."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

from sensorium.pipeline.io.sources.capture import redact
from sensorium.pipeline.serve.streams.errors import InvalidStream
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.pipeline.stream.config import PipelineConfig, StageSpec

#: frames a stream keeps between its source and its emitted results (a live stream drops the oldest)
MAX_IN_FLIGHT = 4


@dataclass(frozen=True)
class StreamRequest:
    """What a client asks for: a source (camera index, URL or path), stages in order, each
    stage's options (as ``--set STAGE.OPTION=VALUE``), sinks by name, an optional label."""

    source: str | int
    stages: tuple[str, ...]
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sinks: tuple[str, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class StreamSpec:
    """A checked stream: the source to open, its label for people (password removed), the
    pipeline config (stage configs built), the sinks' folder and the policy's limits."""

    id: str
    source: str | int
    label: str
    name: str | None
    stages: tuple[str, ...]
    sinks: tuple[str, ...]
    out_dir: str | None
    config: PipelineConfig
    preview_fps: float
    results_buffer: int
    created: float


def new_stream_id() -> str:
    return "s-" + uuid.uuid4().hex[:10]


def build_spec(policy: StreamPolicy, request: StreamRequest, stream_id: str | None = None) -> StreamSpec:
    """The spec for ``request`` under ``policy``; a :class:`StreamError` naming what was refused."""
    source = policy.check_source(request.source)
    sinks = policy.check_sinks(request.sinks)
    policy.check_options(request.options)
    stages = tuple(request.stages)
    if not stages or len(set(stages)) != len(stages):
        raise InvalidStream(f"stages: name each stage once, at least one, got {list(stages)}")
    stray = sorted(set(request.options) - set(stages))
    if stray:
        raise InvalidStream(f"options for stage(s) {', '.join(stray)}, which the stream does not run ({', '.join(stages)})")
    try:
        specs = tuple(StageSpec(name, dict(request.options.get(name) or {}), num_cpus=policy.stage_num_cpus, max_batch=1, max_wait_ms=0.0)
                      for name in stages)
        config = PipelineConfig(stages=specs, max_in_flight=MAX_IN_FLIGHT, source_queue=2)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidStream(str(exc).strip("'\"")) from None
    stream_id = stream_id or new_stream_id()
    out_dir = os.path.join(policy.output_root, stream_id) if sinks and policy.output_root else None
    label = f"camera {source}" if isinstance(source, int) else redact(str(source))
    return StreamSpec(stream_id, source, label, request.name, stages, sinks, out_dir, config, policy.preview_fps,
                      policy.results_buffer, time.time())
