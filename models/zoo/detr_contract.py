"""What a DETR weights file says about its use: labels, normalisation and the resize it was
trained with. The detect stage, ``eval detect`` and fine-tuning read it from here, so a public
DETR runs at its 800/1333 px without the user setting a size, and the shipped model at 192/320.

Where it comes from, first found wins: the JSON beside the weights (shipped, imported or
fine-tuned weights), the training checkpoint itself (``last.pt`` holds the same fields), the
registry entry of a registered name. ``resize`` absent (files written before it was recorded):
the shorter side is the architecture's ``image_size``, the longer at most 1333/800 of it
(DETR's ratio).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from sensorium.models.zoo.detr_shapes_weights import MEAN, STD

#: DETR's reference resize (shorter side 800, longer at most 1333), as a ratio
MAX_OVER_MIN = 1333 / 800


@dataclass(frozen=True)
class DetrContract:
    """labels: class names by class index; mean/std: per RGB channel on [0, 255] pixels;
    min_size/max_size: resize so the shorter side is min_size, the longer at most max_size."""

    labels: tuple[str, ...]
    mean: tuple[float, ...] = MEAN
    std: tuple[float, ...] = STD
    min_size: int = 192
    max_size: int = 320


def default_max_size(min_size: int) -> int:
    """The longer side's cap for ``min_size`` at DETR's ratio (800 → 1333, 192 → 320)."""
    return max(min_size, round(min_size * MAX_OVER_MIN))


def contract_from_meta(meta: Mapping[str, Any], default_labels: tuple[str, ...] = ()) -> DetrContract:
    """A contract from a weights JSON or a checkpoint's fields (``labels``, ``mean``, ``std``,
    ``resize: {min_size, max_size}``, ``config.image_size``)."""
    resize = meta.get("resize") or {}
    min_size = int(resize.get("min_size") or (meta.get("config") or {}).get("image_size") or 192)
    max_size = int(resize.get("max_size") or default_max_size(min_size))
    return DetrContract(labels=tuple(meta.get("labels") or default_labels), mean=tuple(meta.get("mean") or MEAN),
                        std=tuple(meta.get("std") or STD), min_size=min_size, max_size=max_size)


def read_contract(path: str | Path, default_labels: tuple[str, ...] = ()) -> DetrContract:
    """The contract of a weights file: its JSON, else (a training checkpoint) its own fields."""
    p = Path(path)
    meta = p.with_suffix(".json")
    if meta.is_file():
        return contract_from_meta(json.loads(meta.read_text()), default_labels)
    if not p.is_file():
        raise FileNotFoundError(f"DETR weights not found: {p}")
    import torch

    blob = torch.load(p, map_location="cpu", weights_only=False)
    if not (isinstance(blob, dict) and "config" in blob and "model" in blob):
        raise FileNotFoundError(f"{p}: a bare state dict needs its contract (labels, config) in {meta}")
    return contract_from_meta(blob, default_labels)


def contract_for_weights(weights: str, default_labels: tuple[str, ...] = ()) -> DetrContract:
    """The contract of a registered weights name or a weights path."""
    if Path(weights).suffix in (".pt", ".pth") or Path(weights).is_file():
        return read_contract(weights, default_labels)
    from sensorium.models.hub import weights as registry

    entry = registry.get_weights(weights)
    path = registry.resolve(weights)
    if path.with_suffix(".json").is_file():
        return read_contract(path, tuple(entry.labels or default_labels))
    size = entry.input_size or (192, 320)
    return DetrContract(labels=tuple(entry.labels or default_labels), mean=tuple(entry.mean or MEAN), std=tuple(entry.std or STD),
                        min_size=min(size), max_size=max(size))
