"""The JSON written beside every imported weights file: what a stage and ``export`` need to use
it (architecture, labels, mean/std, input size) and where it came from (licence, source sha256)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from sensorium.models.hub.files import sha256_file


def source_record(path: Path, layout: str) -> dict[str, Any]:
    """Provenance of an imported file: its path, layout and sha256 (of the weights file itself
    for a Hugging Face folder)."""
    weights = path / "model.safetensors" if path.is_dir() else path
    return {"path": str(path), "layout": layout, "sha256": sha256_file(weights)}


def write_imported(state: dict[str, torch.Tensor], meta: dict[str, Any], out: Path) -> Path:
    """Write ``out`` (a float32 state dict) and ``out.json`` (``meta``), each through a
    temporary name, so a reader never sees half a file. Returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    torch.save({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, tmp)
    meta_tmp = out.with_name(f".{out.stem}.json.{os.getpid()}.tmp")
    meta_tmp.write_text(json.dumps({**meta, "sha256": sha256_file(tmp, fresh=True)}, indent=2))
    os.replace(meta_tmp, out.with_suffix(".json"))
    os.replace(tmp, out)
    return out
