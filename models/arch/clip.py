"""CLIP and SigLIP image/text towers from open_clip, as separately exportable modules.

open_clip builds the model (a named architecture such as ``ViT-B-32`` or ``ViT-B-16-SigLIP``,
or a config dict for small test models) and loads weights from a local checkpoint file
(``--weights``): nothing here downloads. The towers map

- :class:`ImageTower`: (B, 3, S, S) float32, normalised with the model's mean/std → (B, D) unit vectors;
- :class:`TextTower`: (B, L) int64 token ids → (B, D) unit vectors,

so each exports to its own ONNX graph with a dynamic batch, and the stage runs them on
onnxruntime. Pre-processing (resize the shorter side, centre crop, normalise) and
tokenisation stay outside the graphs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

FAMILIES = ("clip", "siglip")


@dataclass(frozen=True)
class ClipSpec:
    """model: an open_clip architecture name, or None with ``config`` (an open_clip model config
    dict: embed_dim, vision_cfg, text_cfg). family: ``clip`` (softmax contrastive) or ``siglip``
    (sigmoid). weights: a local checkpoint (state dict) or None for random init (tests)."""

    model: str | None = "ViT-B-32"
    family: str = "clip"
    weights: str | None = None
    config: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family: expected one of {', '.join(FAMILIES)}, got {self.family!r}")
        if (self.model is None) == (self.config is None):
            raise ValueError("give an open_clip model name or a config dict, not both or neither")

    @property
    def key(self) -> str:
        """What identifies the embedding space: vectors with different keys are not comparable."""
        if self.model is not None:
            base = self.model
        else:
            import hashlib

            base = "custom:" + hashlib.sha256(json.dumps(dict(self.config), sort_keys=True).encode()).hexdigest()[:16]
        return f"{base}@{Path(self.weights).name if self.weights else 'random'}"


def build_clip(spec: ClipSpec) -> tuple[nn.Module, dict[str, Any]]:
    """(open_clip model in eval mode, {"size", "mean", "std", "context_length", "vocab_size"})."""
    import open_clip
    from open_clip.model import CLIP

    if spec.config is not None:
        cfg = dict(spec.config)
        model = CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"], init_logit_bias=-10.0 if spec.family == "siglip" else None,
                     quick_gelu=cfg.get("quick_gelu", False))
    else:
        if spec.model not in open_clip.list_models():
            raise ValueError(f"unknown open_clip model {spec.model!r}; e.g. ViT-B-32, ViT-B-16-SigLIP (see open_clip.list_models())")
        model = open_clip.create_model(spec.model, pretrained=None)
    if spec.weights is not None:
        path = Path(spec.weights)
        if not path.is_file():
            raise FileNotFoundError(f"open_clip weights not found: {path} (no weights ship with sensorium; pass a local checkpoint)")
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        state = {k.removeprefix("module."): v for k, v in state.items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing:
            raise ValueError(f"{path}: not a checkpoint of this architecture: {len(missing)} missing keys, e.g. {missing[:3]}")
    model.eval()
    visual = model.visual
    size = visual.image_size if isinstance(visual.image_size, (tuple, list)) else (visual.image_size, visual.image_size)
    mean = getattr(visual, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073)
    std = getattr(visual, "image_std", None) or (0.26862954, 0.26130258, 0.27577711)
    meta = {"size": tuple(int(s) for s in size), "mean": tuple(float(m) for m in mean), "std": tuple(float(s) for s in std),
            "context_length": int(model.context_length), "vocab_size": int(model.vocab_size)}
    return model, meta


class ImageTower(nn.Module):
    """(B, 3, H, W) normalised images → (B, D) L2-normalised embeddings."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(images, normalize=True)


class TextTower(nn.Module):
    """(B, L) int64 tokens → (B, D) L2-normalised embeddings."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(tokens, normalize=True)


def export_towers(model: nn.Module, meta: Mapping[str, Any], out_dir: str | Path, *, opset: int = 18) -> dict[str, Any]:
    """Export both towers to ``out_dir/{image,text}.onnx`` (dynamic batch) and check each
    against torch on fresh random inputs at batch 1 and 3. Returns {"image", "text":
    {"path", "max_abs_error"}}; raises ValueError when parity is above 1e-4."""
    import contextlib
    import io
    import os
    import warnings

    import onnxruntime as ort

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h, w = meta["size"]
    gen = torch.Generator().manual_seed(0)
    towers = {
        "image": (ImageTower(model).eval(), lambda b: torch.randn(b, 3, h, w, generator=gen), "images"),
        "text": (TextTower(model).eval(), lambda b: torch.randint(0, meta["vocab_size"], (b, meta["context_length"]), generator=gen), "tokens"),
    }
    report: dict[str, Any] = {}
    for name, (tower, make, input_name) in towers.items():
        path = out / f"{name}.onnx"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(tower, (make(2),), dynamo=True, opset_version=opset, input_names=[input_name],
                                        output_names=["embeddings"], dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},))
        program.save(str(tmp), external_data=False)
        os.replace(tmp, path)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        err = 0.0
        for b in (1, 3):
            x = make(b)
            with torch.inference_mode():
                ref = tower(x).numpy()
            got = sess.run(None, {input_name: x.numpy()})[0]
            err = max(err, float(np.abs(got - ref).max()))
        if err > 1e-4:
            raise ValueError(f"{name} tower: onnxruntime differs from torch by {err:.2e} (> 1e-4)")
        report[name] = {"path": str(path), "max_abs_error": err}
    return report
