"""Pipeline configuration: one frozen value built at the edge (CLI, YAML file, REST) and passed down.

Every key is coerced by its annotation (``--set``/YAML text to numbers, booleans, choices) and
each stage's options are built into that stage's frozen config object (``StageSpec.config``)
here, when the spec is made: a bad value fails before Ray starts, naming the option, the value
and the expected type, and the engines hand the built object to their actors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from sensorium.pipeline.io.sources import ReconnectPolicy
from sensorium.pipeline.stream.reader import DropPolicy
from sensorium.stages.base import build_config, check_chain, get_stage_class
from sensorium.stages.config import ConfigError, coerce_fields, config_options

DROP_POLICIES = tuple(p.value for p in DropPolicy)


def merge_options(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``; nested mappings (``face.quality``, ``gui_agent.icons``) merge key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            value = merge_options(out[key], value)
        out[key] = value
    return out


@dataclass(frozen=True)
class StageSpec:
    """How one stage runs: its own options plus Ray resources and micro-batching.

    replicas: actors in this stage's pool. num_cpus/num_gpus: Ray resources per actor; None:
    what the stage asks (:meth:`Stage.resources`), else the resource planner's share (the
    cluster's CPUs shared among such actors, at most 1 each; GPUs to stages on GPU providers).
    max_batch: most frames per call. max_wait_ms: how long a partial batch may wait for more
    frames while upstream is still producing. calls_per_actor: calls queued on one actor so it
    never idles between batches (pipelining inside the actor).
    options: a mapping (``--set``/YAML values, coerced) or the stage's config object.
    config: the stage's frozen config, built from ``options`` whenever a spec is made (so
    ``replace(spec, options=...)`` rebuilds it); this, not the dict, is what actors receive.
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    replicas: int = 1
    num_cpus: float | None = None
    num_gpus: float | None = None
    max_batch: int = 4
    max_wait_ms: float = 5.0
    calls_per_actor: int = 2
    config: Any = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if is_dataclass(self.options) and not isinstance(self.options, type):  # a config object: kept as its options
            object.__setattr__(self, "options", config_options(build_config(self.name, self.options)))
        coerce_fields(self, f"stages.{self.name}")
        if self.replicas < 1:
            raise ValueError(f"stage {self.name}: replicas must be >= 1, got {self.replicas}")
        if self.max_batch < 1:
            raise ValueError(f"stage {self.name}: max_batch must be >= 1, got {self.max_batch}")
        if self.max_wait_ms < 0 or (self.num_cpus or 0) < 0 or (self.num_gpus or 0) < 0:
            raise ValueError(f"stage {self.name}: max_wait_ms, num_cpus and num_gpus must be >= 0")
        if self.calls_per_actor < 1:
            raise ValueError(f"stage {self.name}: calls_per_actor must be >= 1, got {self.calls_per_actor}")
        object.__setattr__(self, "options", dict(self.options))
        object.__setattr__(self, "config", build_config(self.name, self.options))


@dataclass(frozen=True)
class PipelineConfig:
    """The whole run: stages in order, in-flight bound, source queues, Ray address, metrics port.

    max_in_flight bounds frames admitted but not yet emitted (backpressure: when it is reached
    no source is read; file sources then wait, live sources drop by their policy).
    drop_policy: a :class:`DropPolicy` (or its value); None = per source ("block" for files,
    "drop_oldest" for live sources).
    reconnect: how live sources (cameras, streams) retry and when they give up (YAML: a mapping
    of :class:`ReconnectPolicy` fields, e.g. ``{max_attempts: 5, max_delay_s: 10,
    give_up_after_s: 60}``); None = the opener's default.
    drain_timeout_s: on a requested stop (SIGINT, SIGTERM), how long the frames in flight may
    take to finish before the rest are dropped.
    """

    stages: tuple[StageSpec, ...]
    max_in_flight: int = 16
    source_queue: int = 8
    drop_policy: DropPolicy | None = None
    ray_address: str | None = None
    metrics_port: int | None = None
    reconnect: ReconnectPolicy | None = None
    drain_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.stages, (str, bytes)) or not isinstance(self.stages, (list, tuple)):
            raise ConfigError(f"stages: expected a list of stage names or of mappings with a name, got {self.stages!r}")
        coerce_fields(self)
        if not self.stages:
            raise ValueError("pipeline needs at least one stage")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage listed twice: {names}")
        check_chain([(spec.name, spec.config) for spec in self.stages])
        check_ordered(self.stages)
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {self.max_in_flight}")
        if self.drain_timeout_s < 0:
            raise ValueError(f"drain_timeout_s must be >= 0, got {self.drain_timeout_s}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PipelineConfig":
        """From a YAML/JSON mapping: ``stages`` is a list of names or of mappings with ``name``."""
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"pipeline config: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        items = d.pop("stages", [])
        if not isinstance(items, list):
            raise ConfigError(f"stages: expected a list of stage names or of mappings with a name, got {items!r}")
        return cls(stages=tuple(_spec_from_item(item) for item in items), **d)

    @classmethod
    def from_file(cls, path: str | Path) -> "PipelineConfig":
        import yaml

        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"pipeline config file not found: {p}")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{p}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{p}: expected a mapping at the top level, got {type(data).__name__}")
        return cls.from_dict(data)

    def with_stage_options(self, name: str, **options: Any) -> "PipelineConfig":
        """Options merged over stage ``name``'s (nested mappings key by key); its config is rebuilt and validated."""
        stages = tuple(replace(s, options=merge_options(s.options, options)) if s.name == name else s for s in self.stages)
        return replace(self, stages=stages)


def check_ordered(stages: tuple[StageSpec, ...]) -> None:
    """Raise ConfigError unless the ordered stages (:attr:`Stage.ordered`: tracking, zone counts)
    come last, each with one replica. The engine runs them in the driver, per source, on frames
    as they are emitted in capture order; a parallel stage after one would need a second trip
    through the actor pools, which the engine does not make."""
    first: str | None = None
    for spec in stages:
        ordered = get_stage_class(spec.name).ordered
        if ordered and spec.replicas != 1:
            raise ConfigError(f"stage {spec.name!r} is ordered (it keeps state across one source's frames): the engine runs one "
                              f"instance per source in capture order, so replicas does not apply; got replicas={spec.replicas}")
        if ordered and first is None:
            first = spec.name
        elif not ordered and first is not None:
            raise ConfigError(f"stage {spec.name!r} runs in parallel actors but comes after the ordered stage {first!r}, which sees "
                              f"one source's frames one at a time in capture order: put the ordered stages last "
                              f"(e.g. --stages {','.join([s.name for s in stages if not get_stage_class(s.name).ordered] + [s.name for s in stages if get_stage_class(s.name).ordered])})")


def _spec_from_item(item: Any) -> StageSpec:
    """A ``stages:`` entry of a pipeline file: a stage name, or a mapping with ``name`` and spec keys."""
    if isinstance(item, str):
        return StageSpec(item)
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        raise ConfigError(f"stages: expected a stage name or a mapping with a name, got {item!r}")
    spec_keys = {f.name for f in fields(StageSpec) if f.init}
    bad = sorted(set(item) - spec_keys)
    if bad:
        raise ConfigError(f"stage {item['name']!r}: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(spec_keys))}")
    return StageSpec(**item)
