"""Named model specs: how to build a model, feed it, export it, and which weights it carries.

A :class:`ModelSpec` is the whole contract between an architecture file and the tools that
consume it (``models/hub/export.py``, benchmarks, stages): nothing downstream guesses an input
size, a normalisation or a dynamic axis from tensor shapes or node names.

Architecture modules register their specs at import time with :func:`register_model`. The
modules that hold built-in models are listed once, in :data:`MODEL_MODULES`, and imported on
the first lookup, so importing this module is cheap and nothing scans the file system.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import torch
from torch import nn

#: Modules whose import registers the built-in models, in one place (no file-system scan).
MODEL_MODULES: tuple[str, ...] = (
    "sensorium.models.arch.cnn",
    "sensorium.models.arch.vit",
    "sensorium.models.zoo.detr_shapes",
    "sensorium.models.zoo.detr_public",
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # no dots: export file names append ".fp16.onnx"


class ExampleInputs(Protocol):
    def __call__(self, batch: int, *, seed: int | None = None) -> tuple[torch.Tensor, ...]: ...


def image_inputs(height: int, width: int, channels: int = 3) -> ExampleInputs:
    """Example inputs for an image model: ``fn(batch, *, seed=None)`` -> ((B, C, H, W) float32,).

    Standard-normal values stand in for a normalised image; ``seed`` makes them reproducible.
    """

    def example_inputs(batch: int, *, seed: int | None = None) -> tuple[torch.Tensor, ...]:
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        return (torch.randn(batch, channels, height, width, generator=gen),)  # (B, C, H, W)

    return example_inputs


@dataclass(frozen=True)
class ModelMeta:
    """What a caller must know to feed the model and read its outputs.

    input_size: (H, W) of the image the model expects (or was trained at, when the graph
    accepts other sizes). mean/std: per-channel normalisation ``(x - mean) / std`` of pixel
    values in [0, 255], in ``channel_order``, applied *before* the graph (the weights
    registry's convention). labels: class names indexed by output channel (empty when the
    model has random weights or no class head).
    """

    input_size: tuple[int, int]
    mean: tuple[float, ...] = (123.675, 116.28, 103.53)  # ImageNet, x 255
    std: tuple[float, ...] = (58.395, 57.12, 57.375)
    channel_order: str = "RGB"
    labels: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.input_size) != 2 or min(self.input_size) <= 0:
            raise ValueError(f"input_size: expected (H, W) of positive ints, got {self.input_size!r}")
        if len(self.mean) != len(self.std) or min(self.std) <= 0:
            raise ValueError(f"mean/std: expected equal lengths and positive std, got {self.mean!r} / {self.std!r}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order: expected 'RGB' or 'BGR', got {self.channel_order!r}")
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def to_json(self) -> dict[str, Any]:
        return {
            "input_size": list(self.input_size),
            "mean": list(self.mean),
            "std": list(self.std),
            "channel_order": self.channel_order,
            "labels": list(self.labels),
            **({"extra": dict(self.extra)} if self.extra else {}),
        }


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    build: keyword-only builder returning the module with random init (``build(**overrides)``);
    weights are loaded separately, by name, from the weights registry.
    example_inputs: ``example_inputs(batch, *, seed=None)`` -> fresh inputs of that batch size
    (seeded when ``seed`` is given), in ``input_names`` order; float32, already normalised.
    dynamic_axes: input/output name -> {axis: symbolic name}. Axis 0 is the batch of every input
    and output and must be dynamic; other axes (sequence, height, width) where the graph allows.
    weights: name in the weights registry, or None for random init (an architecture without
    trained weights). A model with weights is named as they are: one name everywhere.
    load: ``load(model, path)`` fills the model from the weights file when that file is not a
    state dict in the model's own names (a public checkpoint in its publisher's layout).
    """

    name: str
    build: Callable[..., nn.Module]
    example_inputs: ExampleInputs
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: Mapping[str, Mapping[int, str]]
    meta: ModelMeta
    weights: str | None = None
    load: Callable[[nn.Module, Any], None] | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"model name: expected lower-case [a-z0-9_-]+, got {self.name!r}")
        if not isinstance(self.meta, ModelMeta):
            raise TypeError(f"{self.name}: meta must be a ModelMeta, got {type(self.meta).__name__}")
        names = (*self.input_names, *self.output_names)
        if not self.input_names or not self.output_names or len(set(names)) != len(names):
            raise ValueError(f"{self.name}: expected non-empty, distinct input and output names, got {names}")
        if self.weights is not None and self.weights != self.name:
            raise ValueError(f"model {self.name!r} carries weights {self.weights!r}: a model with trained weights is named as "
                             "they are, so `models list`, `export` and `--set ...weights=` say one name")
        unknown = set(self.dynamic_axes) - set(names)
        if unknown:
            raise ValueError(f"{self.name}: dynamic_axes names {sorted(unknown)} are not inputs or outputs {names}")
        for tensor in names:
            if 0 not in self.dynamic_axes.get(tensor, {}):
                raise ValueError(f"{self.name}: axis 0 (batch) of {tensor!r} must be dynamic, got {dict(self.dynamic_axes)}")
        frozen = {k: MappingProxyType(dict(v)) for k, v in self.dynamic_axes.items()}
        object.__setattr__(self, "dynamic_axes", MappingProxyType(frozen))


class ModelRegistry:
    """Name -> :class:`ModelSpec`; registering a taken name raises instead of shadowing it."""

    def __init__(self) -> None:
        self._specs: dict[str, ModelSpec] = {}
        self._lock = threading.Lock()

    def register(self, spec: ModelSpec) -> ModelSpec:
        with self._lock:
            if spec.name in self._specs:
                raise ValueError(f"model {spec.name!r} is already registered (by {self._specs[spec.name].build.__module__})")
            self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            near = [n for n in self.names() if n.replace("-", "_") == name.replace("-", "_")]
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"unknown model {name!r}{hint}; known: {', '.join(self.names()) or 'none'}") from None

    def names(self) -> list[str]:
        return sorted(self._specs)


_REGISTRY = ModelRegistry()
_builtins_loaded = False


def _load_builtin_models() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        for module in MODEL_MODULES:
            importlib.import_module(module)  # registers its specs
        _builtins_loaded = True


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the global registry; raises ValueError if the name is taken."""
    return _REGISTRY.register(spec)


def get_model(name: str) -> ModelSpec:
    """The spec registered as ``name``; unknown names raise ValueError listing the known ones."""
    _load_builtin_models()
    return _REGISTRY.get(name)


def list_models() -> list[str]:
    """Registered model names, sorted."""
    _load_builtin_models()
    return _REGISTRY.names()
