"""open_clip checkpoints → the project's CLIP weights (``.pt``) and their JSON.

The architecture is named by the user (``--model ViT-B-32``, an open_clip name) or given as an
open_clip model config (a JSON file: embed_dim, vision_cfg, text_cfg), never read off tensor
shapes; every key of the checkpoint must fit it. The JSON records the architecture, family
(SigLIP when the model has a logit bias), input size, mean/std, licence and the source sha256,
so the embed stage and ``export`` need nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from sensorium.models.arch.clip import ClipSpec, build_clip
from sensorium.models.zoo.importers.contract import source_record, write_imported


def read_open_clip_state(path: str | Path) -> dict[str, torch.Tensor]:
    """An open_clip state dict from ``.bin``/``.pt``/``.pth`` (optionally under ``state_dict``,
    DDP ``module.`` prefixes dropped) or ``.safetensors``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"open_clip checkpoint not found: {p}")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(p))
    else:
        state = torch.load(p, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise ValueError(f"{p}: expected an open_clip state dict, got {type(state).__name__}")
    return {k.removeprefix("module."): v for k, v in state.items()}


def import_open_clip(path: str | Path, out: str | Path, *, model: str | None = None, config_json: str | Path | None = None,
                     license: str = "see the checkpoint's source") -> Path:
    """Import an open_clip checkpoint of architecture ``model`` (or ``config_json``) into ``out``
    (``.pt``) and its ``.json``; a key missing or left over raises ValueError naming it."""
    if (model is None) == (config_json is None):
        raise ValueError("give the architecture as an open_clip model name (--model) or a config JSON, not both or neither")
    config = json.loads(Path(config_json).read_text()) if config_json is not None else None
    state = read_open_clip_state(path)
    has_bias = "logit_bias" in state
    clip, meta = build_clip(ClipSpec(model=model, family="siglip" if has_bias else "clip", config=config))
    missing, unexpected = clip.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path} does not fit open_clip {model or config_json}: {len(missing)} missing "
                         f"({', '.join(missing[:5])}), {len(unexpected)} unexpected ({', '.join(unexpected[:5])})")
    contract: dict[str, Any] = {
        "model": model, "config": config, "family": "siglip" if has_bias else "clip",
        "input_size": list(meta["size"]), "mean": [255 * m for m in meta["mean"]], "std": [255 * s for s in meta["std"]],
        "context_length": meta["context_length"], "license": license, "source": source_record(Path(path), "open_clip"),
    }
    return write_imported(clip.state_dict(), contract, Path(out))


def export_imported(weights: str | Path, out_dir: str | Path) -> Path:
    """Export an imported open_clip checkpoint's towers to ``out_dir/{image,text}.onnx`` (open_clip
    has no ONNX export of its own: open_clip#186), each checked against torch at batch 1 and 3,
    and record both with their parity, the source and the preprocessing in ``out_dir/clip.manifest.json``."""
    from sensorium.models.arch.clip import export_towers
    from sensorium.models.hub.files import sha256_file

    pt = Path(weights)
    contract = json.loads(pt.with_suffix(".json").read_text())
    clip, meta = build_clip(ClipSpec(model=contract["model"], family=contract["family"], weights=str(pt), config=contract["config"]))
    report = export_towers(clip, meta, out_dir)
    out = Path(out_dir)
    manifest = {
        "towers": {name: {"file": Path(r["path"]).name, "sha256": sha256_file(r["path"]), "max_abs_error": r["max_abs_error"],
                          "input": "images (B, 3, H, W) float32, normalised" if name == "image" else "tokens (B, L) int64"}
                   for name, r in report.items()},
        "contract": {k: contract[k] for k in ("model", "family", "input_size", "mean", "std", "context_length", "license", "source")},
        "parity_reference": "open_clip encode_image/encode_text (normalised) in torch fp32 vs onnxruntime CPU",
    }
    path = out / "clip.manifest.json"
    path.write_text(json.dumps(manifest, indent=2))
    return path
