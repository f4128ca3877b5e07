"""The stage contract and the stage registry (stage configuration is in ``config.py``).

A stage is a plain class: ``Stage(config)``, ``setup()`` (load models, once per worker), and a
batched ``__call__(frames) -> frames`` returning one frame per input, in order. The pipeline
wraps it in a Ray actor, the batch engine in ``map_batches``, the REST service calls it
directly: one implementation serves all three.

Bad items never sink a batch: ``__call__`` runs ``process`` on the whole batch and, if that
raises, again item by item, so the error lands on the frame that caused it
(``frame.errors[stage]``) and the good frames around it keep their results.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping, Sequence

from sensorium.stages.config import ConfigError, StageConfig, coerce, coerce_fields, config_from_dict, config_options  # noqa: F401 - the contract's names
from sensorium.stages.frame import Frame

log = logging.getLogger(__name__)


class Stage(ABC):
    """Base class of every stage.

    Class attributes: ``name`` (registry name and the key of its result in ``frame.results``),
    ``requires`` (results of earlier stages it reads), ``Config`` (its frozen config class).
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type] = StageConfig
    #: True for a stage that keeps state across one source's frames (tracking, zone counts):
    #: the stream engine runs one instance per source, on that source's frames one at a time
    #: in capture order, so its answer never depends on timing; ``batch`` and ``/v1/perceive``,
    #: whose items are independent images, refuse it.
    ordered: ClassVar[bool] = False
    #: Frame fields besides ``image`` of which each frame must carry at least one (depth:
    #: ``("right", "sensor_depth")``, a stereo pair or RGB-D); () = a single image will do. The
    #: command line checks it against its sources' ``extras`` before anything runs.
    frame_needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any = None) -> None:
        if config is None:
            config = self.Config()
        elif isinstance(config, Mapping):
            config = config_from_dict(self.Config, config, where=self.name or None)
        self.config = config
        self._ready = False

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this stage can run here (dependencies, weights); the reason when not."""
        return True, ""

    def setup(self) -> None:
        """Load models and allocate once per worker; idempotent."""
        self._ready = True

    def check(self, frame: Frame) -> None:
        """Raise ValueError if ``frame`` lacks what this stage needs (default: an image and ``requires``)."""
        if frame.image is None:
            raise ValueError("no image")
        for need in self.requires:
            if need not in frame.results:
                why = frame.errors.get(need)
                raise ValueError(f"needs the {need!r} result" + (f" ({need} failed: {why})" if why else ", which no earlier stage produced"))

    @abstractmethod
    def process(self, frames: Sequence[Frame]) -> list[Any]:
        """Compute this stage's result for each frame (all pass ``check``); one result per frame."""

    def __call__(self, frames: Sequence[Frame]) -> list[Frame]:
        if not self._ready:
            self.setup()
            self._ready = True
        frames = list(frames)
        todo: list[Frame] = []
        for frame in frames:
            if "source" in frame.errors:
                continue  # nothing to compute on; the source error already names the item
            try:
                self.check(frame)
            except Exception as exc:  # noqa: BLE001 - recorded on the item
                frame.errors[self.name] = f"{frame.key}: {self.name}: {exc}"
                continue
            todo.append(frame)
        if not todo:
            return frames
        start = time.perf_counter()
        try:
            results = self.process(todo)
            if len(results) != len(todo):
                raise RuntimeError(f"{type(self).__name__}.process returned {len(results)} results for {len(todo)} frames")
            per_frame = (time.perf_counter() - start) / len(todo)
            for frame, result in zip(todo, results):
                frame.results[self.name] = result
                frame.timings[self.name] = per_frame
        except Exception:  # noqa: BLE001 - isolate the bad item(s) below
            if len(todo) == 1:
                self._fail(todo[0])
            else:
                for frame in todo:
                    self._run_one(frame)
        return frames

    def _run_one(self, frame: Frame) -> None:
        start = time.perf_counter()
        try:
            (result,) = self.process([frame])
        except Exception:  # noqa: BLE001
            self._fail(frame)
            return
        frame.results[self.name] = result
        frame.timings[self.name] = time.perf_counter() - start

    def _fail(self, frame: Frame) -> None:
        import sys

        exc = sys.exc_info()[1]
        if not isinstance(exc, (ValueError, FileNotFoundError)):
            log.exception("stage %s failed on %s", self.name, frame.key)
        frame.errors[self.name] = f"{frame.key}: {self.name}: {type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else f"{frame.key}: {self.name}: {exc}"

    # --- hooks: what the engines ask a stage instead of naming it ------------------------
    @classmethod
    def batch_defaults(cls) -> dict[str, Any]:
        """Options a batch job sets unless the user does (a batch writes every result to
        Parquet, where what suits a live stream's next stage can be dead weight)."""
        return {}

    @classmethod
    def resources(cls, config: Any) -> "Resources":
        """What one actor of this stage asks of the cluster; None leaves it to the planner's
        share. Default: a GPU is wanted when a ``providers`` config field names CUDA or TensorRT."""
        providers = getattr(config, "providers", ())
        if isinstance(providers, str):
            providers = providers.split(",")
        gpu = any(str(p).strip().lower().removesuffix("executionprovider") in ("cuda", "tensorrt") for p in providers)
        return Resources(wants_gpu=gpu)

    @classmethod
    def index_rows(cls, result: Any) -> list["IndexRow"]:
        """The vectors of this stage's result that belong in a batch job's vector index (default: none)."""
        return []

    @classmethod
    def image_vector(cls, result: Any) -> Any:
        """The whole image's vector ((D,) float32) for a batch row's ``embedding`` column, or None."""
        return None


@dataclasses.dataclass(frozen=True)
class Resources:
    """One actor's Ray resources as a stage asks for them: None lets the planner share the
    cluster's (``sensorium.pipeline.cluster.plan_resources``); ``wants_gpu``: it gets a share of
    the GPUs when the user gives no ``num_gpus``."""

    num_cpus: float | None = None
    num_gpus: float | None = None
    wants_gpu: bool = False


@dataclasses.dataclass(frozen=True)
class IndexRow:
    """One vector for the vector index: (D,) float32 unit vector, the model that made it (vectors
    of different models are not comparable), what it embeds (``kind``: image, detection, ...),
    an optional label and an optional (x1, y1, x2, y2) pixel box."""

    vector: Any
    model: str
    kind: str = "image"
    label: str | None = None
    box: tuple[float, ...] | None = None


# --- registry -----------------------------------------------------------------------------
# Built-in stages by name → "module:Class", imported lazily so a stage's heavy dependencies
# load only when it is used. Stage families from other distributions register under the
# entry-point group ``sensorium.stages`` (read on first use, never at import). No file-system scanning.
ENTRY_POINT_GROUP = "sensorium.stages"
BUILTIN_STAGES: dict[str, str] = {
    "depth": "sensorium.stages.depth.stage:DepthStage",
    "detect": "sensorium.stages.detect.stage:DetectStage",
    "face": "sensorium.stages.face.stage:FaceStage",
    "gaze": "sensorium.stages.gaze.stage:GazeStage",
    "embed": "sensorium.stages.embed.stage:EmbedStage",
    "pose": "sensorium.stages.pose.stage:PoseStage",
    "track": "sensorium.stages.track.stage:TrackStage",
    "zones": "sensorium.stages.zones.stage:ZonesStage",
}
_registered: dict[str, type[Stage]] = {}


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Register a stage class under ``cls.name`` (raises on a duplicate name)."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    if cls.name in _registered or (cls.name in BUILTIN_STAGES and BUILTIN_STAGES[cls.name] != f"{cls.__module__}:{cls.__qualname__}"):
        raise ValueError(f"stage {cls.name!r} registered twice")
    _registered[cls.name] = cls
    return cls


def _plugins() -> dict[str, str]:
    """name → "module:Class" of the stages other installed distributions declare."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN_STAGES}


def stage_names() -> list[str]:
    """Every known stage name, built-in first, in pipeline order, then plug-ins, then stages registered in this process."""
    names = list(BUILTIN_STAGES) + sorted(_plugins())
    return names + [n for n in _registered if n not in names]


def get_stage_class(name: str) -> type[Stage]:
    """The stage class registered as ``name`` (imported on first use); ValueError naming the known ones."""
    if name in _registered:
        return _registered[name]
    target = BUILTIN_STAGES.get(name) or _plugins().get(name)
    if target is None:
        raise ValueError(f"unknown stage {name!r}; known: {', '.join(stage_names())}")
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if getattr(cls, "name", None) != name:
        raise ValueError(f"{target} is registered as stage {name!r} but its name is {getattr(cls, 'name', None)!r}")
    _registered.setdefault(name, cls)
    return cls


def build_config(name: str, options: Mapping[str, Any] | Any = None) -> Any:
    """The stage ``name``'s frozen config from CLI/YAML options (coerced, validated; errors are
    :class:`ConfigError` naming ``name.option``), or ``options`` itself when it is already one.
    Built once at the edge; the engines hand this object to their actors."""
    cls = get_stage_class(name).Config
    if isinstance(options, cls):
        return options
    if options is not None and not isinstance(options, Mapping):
        raise ConfigError(f"{name}: expected a {cls.__name__} or a mapping of its options, got {type(options).__name__}")
    return config_from_dict(cls, options, where=name)


def check_chain(stages: Sequence[tuple[str, Any]]) -> None:
    """Raise ConfigError when a stage needs the result of a stage that does not run before it
    (``gaze`` without ``face``; ``pose`` with ``persons=detect`` but no ``detect``), naming both:
    checked once at the edge, before any model loads or Ray starts, instead of failing every
    frame. ``stages``: (name, config) in pipeline order."""
    before: list[str] = []
    for name, config in stages:
        missing = [need for need in get_stage_class(name)(config).requires if need not in before]
        if missing:
            where = "before it" if any(need == n for need in missing for n, _ in stages) else "before it, which is not in the list"
            fix = ",".join(dict.fromkeys([*before, *missing, name]))
            raise ConfigError(f"stage {name!r} needs the {', '.join(repr(m) for m in missing)} stage {where} "
                              f"(e.g. --stages {fix})")
        before.append(name)


def refuse_ordered(classes: Mapping[str, type[Stage]], why: str) -> None:
    """ConfigError naming the ordered stages among ``classes`` (name → class), for the engines
    whose items are independent images (``batch``, ``/v1/perceive``); ``why`` says what to use."""
    ordered = [name for name, cls in classes.items() if cls.ordered]
    if ordered:
        raise ConfigError(f"stage(s) {', '.join(repr(n) for n in ordered)} keep state across one source's frames in capture order "
                          f"(tracking, zone counts), which needs a stream of frames: {why}")


def build_stage(name: str, config: dict[str, Any] | Any = None) -> Stage:
    """Instantiate a stage by name with a config dict (validated) or config object."""
    return get_stage_class(name)(config)


def available_stages() -> dict[str, tuple[bool, str]]:
    """name → (available, reason) for every built-in stage."""
    out = {}
    for name in stage_names():
        try:
            out[name] = get_stage_class(name).available()
        except Exception as exc:  # noqa: BLE001 - an import error means "not available"
            out[name] = (False, f"{type(exc).__name__}: {exc}")
    return out
