"""Pipeline configuration: one frozen value built at the edge (CLI, YAML file, REST) and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

DROP_POLICIES = ("block", "drop_oldest", "latest_only")


@dataclass(frozen=True)
class StageSpec:
    """How one stage runs: its own options plus Ray resources and micro-batching.

    replicas: actors in this stage's pool. num_cpus/num_gpus: Ray resources per actor.
    max_batch: most frames per call. max_wait_ms: how long a partial batch may wait for more
    frames while upstream is still producing. calls_per_actor: calls queued on one actor so it
    never idles between batches (pipelining inside the actor).
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    replicas: int = 1
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_batch: int = 4
    max_wait_ms: float = 5.0
    calls_per_actor: int = 2

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError(f"stage {self.name}: replicas must be >= 1, got {self.replicas}")
        if self.max_batch < 1:
            raise ValueError(f"stage {self.name}: max_batch must be >= 1, got {self.max_batch}")
        if self.max_wait_ms < 0 or self.num_cpus < 0 or self.num_gpus < 0:
            raise ValueError(f"stage {self.name}: max_wait_ms, num_cpus and num_gpus must be >= 0")
        if self.calls_per_actor < 1:
            raise ValueError(f"stage {self.name}: calls_per_actor must be >= 1, got {self.calls_per_actor}")
        object.__setattr__(self, "options", dict(self.options))


@dataclass(frozen=True)
class PipelineConfig:
    """The whole run: stages in order, in-flight bound, source queues, Ray address, metrics port.

    max_in_flight bounds frames admitted but not yet emitted (backpressure: when it is reached
    no source is read; file sources then wait, live sources drop by their policy).
    drop_policy: None = per source ("block" for files, "drop_oldest" for live sources).
    """

    stages: tuple[StageSpec, ...]
    max_in_flight: int = 16
    source_queue: int = 8
    drop_policy: str | None = None
    ray_address: str | None = None
    metrics_port: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise ValueError("pipeline needs at least one stage")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage listed twice: {names}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {self.max_in_flight}")
        if self.drop_policy is not None and self.drop_policy not in DROP_POLICIES:
            raise ValueError(f"drop_policy: expected one of {', '.join(DROP_POLICIES)}, got {self.drop_policy!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PipelineConfig":
        """From a YAML/JSON mapping: ``stages`` is a list of names or of mappings with ``name``."""
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"pipeline config: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        stages = []
        spec_keys = {f.name for f in fields(StageSpec)}
        for item in d.pop("stages", []):
            if isinstance(item, str):
                stages.append(StageSpec(item))
                continue
            item = dict(item)
            bad = sorted(set(item) - spec_keys)
            if bad:
                raise ValueError(f"stage {item.get('name')!r}: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(spec_keys))}")
            stages.append(StageSpec(**item))
        return cls(stages=tuple(stages), **d)

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
        stages = tuple(replace(s, options={**s.options, **options}) if s.name == name else s for s in self.stages)
        return replace(self, stages=stages)
