"""Load DETR checkpoints in the Hugging Face ``transformers`` layout (``facebook/detr-resnet-50``).

Both key styles are accepted: the published one (``model.backbone.conv_encoder.model.*``,
``out_proj``, ``fc1``) and transformers 5's in-memory one (``model.backbone.model.*``,
``o_proj``, ``mlp.fc1``). Every checkpoint key must map to a parameter of ours and every
parameter of ours must be filled, except the SPP block, which stays zero (identity) until
fine-tuned. Anything else raises with the offending keys listed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

_RULES: tuple[tuple[str, str], ...] = (
    (r"^model\.backbone\.(?:conv_encoder\.)?model\.", "backbone."),
    (r"^model\.input_projection\.", "input_proj."),
    (r"^model\.query_position_embeddings\.", "query_embed."),
    (r"^model\.decoder\.layernorm\.", "decoder.norm."),
    (r"^model\.(encoder|decoder)\.layers\.", r"\1.layers."),
    (r"^class_labels_classifier\.", "class_embed."),
    (r"^bbox_predictor\.", "bbox_embed."),
    (r"\.o_proj\.", ".out_proj."),
    (r"\.mlp\.fc([12])\.", r".fc\1."),
    (r"\.encoder_attn\.", ".cross_attn."),
    (r"\.fc1\.", ".linear1."),
    (r"\.fc2\.", ".linear2."),
    (r"\.self_attn_layer_norm\.", ".norm1."),
    (r"^(decoder\.layers\.\d+)\.encoder_attn_layer_norm\.", r"\1.norm2."),
    (r"^(encoder\.layers\.\d+)\.final_layer_norm\.", r"\1.norm2."),
    (r"^(decoder\.layers\.\d+)\.final_layer_norm\.", r"\1.norm3."),
)


def convert_hf_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a transformers ``DetrForObjectDetection`` state dict to this project's names."""
    out = {}
    for key, value in state.items():
        new = key
        for pattern, repl in _RULES:
            new = re.sub(pattern, repl, new)
        if new in out:
            raise ValueError(f"checkpoint keys collide after renaming: {key!r} → {new!r}")
        out[new] = value
    return out


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a torch ``.bin``/``.pth`` file (weights only)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"DETR weights not found: {p}")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p))
    state = torch.load(p, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint of ours
    if not isinstance(state, dict):
        raise ValueError(f"{p}: expected a state dict, got {type(state).__name__}")
    return state


def load_detr_weights(model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str = "checkpoint") -> None:
    """Load our own or a Hugging Face layout state dict into ``model``, strictly (SPP excepted)."""
    if any(k.startswith(("model.", "class_labels_classifier.", "bbox_predictor.")) for k in state):
        state = convert_hf_state_dict(state)
    ours = model.state_dict()
    unexpected = sorted(k for k in state if k not in ours)
    missing = sorted(k for k in ours if k not in state and not k.startswith("spp."))
    wrong = sorted(f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(ours[k].shape)}" for k, v in state.items() if k in ours and v.shape != ours[k].shape)
    if unexpected or missing or wrong:
        parts = []
        for label, items in (("unexpected", unexpected), ("missing", missing), ("shape mismatch", wrong)):
            if items:
                parts.append(f"{len(items)} {label}: {', '.join(items[:8])}{' ...' if len(items) > 8 else ''}")
        raise ValueError(f"{source} does not fit this DETR: " + "; ".join(parts))
    model.load_state_dict(state, strict=False)
