"""DETR checkpoints as published → the project's DETR weights (``.pt``) and their JSON.

Two public layouts: facebookresearch's ``.pth`` (``{"model": state}``, original key names
``backbone.0.body.*``, ``transformer.*``, packed ``in_proj`` attention) and a Hugging Face folder
(``config.json`` + ``model.safetensors`` from ``save_pretrained``, e.g. ``facebook/detr-resnet-50``;
a lone ``.safetensors`` is read with that model's configuration). The architecture comes from the
layout's own description (hubconf.py's constants, or ``config.json``), never from tensor shapes.
The SPP block is added zero-initialised, so the imported model computes what the original does.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import torch

from sensorium.models.arch.detr_checkpoint import load_detr_weights, read_state_dict
from sensorium.models.layers.attention import unpack_in_proj
from sensorium.models.zoo.coco_labels import COCO91
from sensorium.models.zoo.detr_contract import default_max_size
from sensorium.models.zoo.detr_shapes import DetrConfig, build_detr_from_config
from sensorium.models.zoo.importers.contract import source_record, write_imported
from sensorium.models.zoo.public_weights import IMAGENET_MEAN, IMAGENET_STD

#: facebookresearch/detr hubconf.py's ``_make_detr``: hidden 256, 8 heads, 6 + 6 layers, FFN
#: 2048, 100 queries, 91 COCO ids; post-norm, frozen BatchNorm; trained at 800 px
PUBLIC_DETR = DetrConfig(backbone="resnet50", return_layer=4, norm="frozen_bn", dim=256, heads=8, enc_layers=6, dec_layers=6,
                         ffn_dim=2048, dropout=0.0, num_queries=100, spp=True, num_classes=91, image_size=800)
BACKBONES = ("resnet18", "resnet50", "resnet101")

_FB_RULES: tuple[tuple[str, str], ...] = (
    (r"^backbone\.0\.body\.", "backbone."),
    (r"^transformer\.(encoder|decoder)\.layers\.", r"\1.layers."),
    (r"^transformer\.decoder\.norm\.", "decoder.norm."),
    (r"\.multihead_attn\.", ".cross_attn."),
)


def convert_facebookresearch(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an original DETR state dict to this project's names (attention ``in_proj`` split)."""
    out = {}
    for key, value in state.items():
        new = key
        for pattern, repl in _FB_RULES:
            new = re.sub(pattern, repl, new)
        out[new] = value
    return unpack_in_proj(out)


def _read_pth(path: Path) -> dict[str, torch.Tensor]:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickles with arbitrary objects fail in many ways
        raise ValueError(f"{path}: expected a facebookresearch DETR checkpoint (a dict with 'model'), could not read it "
                         f"safely ({type(exc).__name__}: {str(exc)[:200]})") from None
    state = blob.get("model", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict) or not any(k.startswith("backbone.0.body.") for k in state):
        raise ValueError(f"{path}: expected the facebookresearch layout (keys backbone.0.body.*, transformer.*), "
                         f"got {sorted(state)[:4] if isinstance(state, dict) else type(blob).__name__}")
    return state


def _hf_config(folder: Path) -> tuple[DetrConfig, tuple[str, ...]]:
    """(architecture, labels) from a ``save_pretrained`` folder's ``config.json``."""
    cfg = json.loads((folder / "config.json").read_text())
    if cfg.get("model_type") != "detr":
        raise ValueError(f"{folder / 'config.json'}: expected model_type 'detr', got {cfg.get('model_type')!r}")
    if cfg.get("dilation"):
        raise ValueError(f"{folder}: DC5 (dilated) DETR is not supported; use detr-resnet-50 or -101")
    # the hub's config.json says "backbone"; transformers 5 writes it under backbone_config;
    # neither: transformers' own default, resnet50
    backbone = cfg.get("backbone") or (cfg.get("backbone_config") or {}).get("backbone") or "resnet50"
    if backbone not in BACKBONES:
        raise ValueError(f"{folder}: backbone {backbone!r} is not supported; expected one of {', '.join(BACKBONES)}")
    id2label = {int(k): v for k, v in (cfg.get("id2label") or {}).items()}
    labels = tuple(id2label[i] for i in range(len(id2label)))
    if cfg.get("encoder_attention_heads") != cfg.get("decoder_attention_heads"):
        raise ValueError(f"{folder}: expected equal encoder and decoder heads, got {cfg.get('encoder_attention_heads')}, "
                         f"{cfg.get('decoder_attention_heads')}")
    config = dataclasses.replace(PUBLIC_DETR, backbone=backbone, dim=cfg["d_model"], heads=cfg["encoder_attention_heads"],
                                 enc_layers=cfg["encoder_layers"], dec_layers=cfg["decoder_layers"],
                                 ffn_dim=cfg["encoder_ffn_dim"], num_queries=cfg["num_queries"], num_classes=len(labels))
    return config, labels


def read_detr_checkpoint(path: str | Path, *, backbone: str = "resnet50") -> tuple[dict[str, torch.Tensor], DetrConfig, tuple[str, ...], str]:
    """(state dict in our names, architecture, labels, layout) of a public DETR checkpoint.

    ``backbone`` applies to the layouts that do not record it (a ``.pth``, a lone ``.safetensors``)."""
    p = Path(path)
    if backbone not in BACKBONES:
        raise ValueError(f"backbone: expected one of {', '.join(BACKBONES)}, got {backbone!r}")
    if p.is_dir():
        if not (p / "config.json").is_file() or not (p / "model.safetensors").is_file():
            raise FileNotFoundError(f"{p}: a Hugging Face DETR folder holds config.json and model.safetensors "
                                    f"(save_pretrained); found {', '.join(sorted(f.name for f in p.iterdir())) or 'nothing'}")
        config, labels = _hf_config(p)
        return read_state_dict(p / "model.safetensors"), config, labels, "huggingface"
    if not p.is_file():
        raise FileNotFoundError(f"DETR checkpoint not found: {p}")
    config = dataclasses.replace(PUBLIC_DETR, backbone=backbone)
    if p.suffix == ".safetensors":
        return read_state_dict(p), config, COCO91, "huggingface"
    return convert_facebookresearch(_read_pth(p)), config, COCO91, "facebookresearch"


def import_detr(path: str | Path, out: str | Path, *, backbone: str = "resnet50", license: str = "Apache-2.0",
                labels: tuple[str, ...] | None = None) -> Path:
    """Import a public DETR checkpoint into ``out`` (``.pt``) and ``out``'s ``.json`` (config,
    labels, mean/std, input size, licence, source sha256); every key must fit (SPP excepted)."""
    state, config, found_labels, layout = read_detr_checkpoint(path, backbone=backbone)
    labels = tuple(labels or found_labels)
    if len(labels) != config.num_classes:
        raise ValueError(f"labels: expected {config.num_classes} names (one per class of the checkpoint), got {len(labels)}")
    model = build_detr_from_config(config).eval()
    load_detr_weights(model, state, source=str(path))
    meta: dict[str, Any] = {"config": config.to_json(), "labels": list(labels), "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
                            "input_size": [config.image_size, config.image_size], "license": license,
                            # DETR's reference resize, read by the detect stage unless the user sets one
                            "resize": {"min_size": config.image_size, "max_size": default_max_size(config.image_size)},
                            "source": source_record(Path(path), layout)}
    return write_imported(model.state_dict(), meta, Path(out))
