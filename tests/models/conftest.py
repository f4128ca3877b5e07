"""Public DETR checkpoints made here with random weights (nothing downloads): transformers'
model and its weights renamed to facebookresearch/detr's own layout, for the architecture's
parity tests and the importer tests."""

from __future__ import annotations

import os
import re

import pytest
import torch


def _hf_detr(**overrides):
    """transformers' DETR with random weights and randomised frozen-BN statistics (nothing downloads)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    torch.manual_seed(0)
    kwargs = {"use_timm_backbone": True, "backbone": "resnet50", "use_pretrained_backbone": False, "num_labels": 91, **overrides}
    cfg = transformers.DetrConfig(**kwargs)
    hf = transformers.DetrForObjectDetection(cfg).eval()
    with torch.no_grad():
        for name, buf in hf.named_buffers():
            if name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                buf.normal_(0, 0.1)
    return hf


def _facebookresearch_layout(saved: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A published-layout HF state dict renamed to facebookresearch/detr's own names, the
    ones its hub ``.pth`` files hold: ``backbone.0.body.*``, ``transformer.*``, packed in_proj."""
    out: dict[str, torch.Tensor] = {}
    for key, value in saved.items():
        if key.endswith("num_batches_tracked"):
            continue
        k = key.replace("model.backbone.conv_encoder.model.", "backbone.0.body.").replace("model.backbone.model.", "backbone.0.body.")
        k = k.replace("model.input_projection.", "input_proj.").replace("model.query_position_embeddings.", "query_embed.")
        k = k.replace("model.decoder.layernorm.", "transformer.decoder.norm.")
        k = re.sub(r"^model\.(encoder|decoder)\.layers\.", r"transformer.\1.layers.", k)
        k = k.replace("class_labels_classifier.", "class_embed.").replace("bbox_predictor.", "bbox_embed.")
        k = k.replace(".o_proj.", ".out_proj.").replace(".mlp.fc", ".fc").replace(".encoder_attn.", ".multihead_attn.")
        k = k.replace(".fc1.", ".linear1.").replace(".fc2.", ".linear2.").replace(".self_attn_layer_norm.", ".norm1.")
        k = k.replace(".encoder_attn_layer_norm.", ".norm2.")
        k = k.replace(".final_layer_norm.", ".norm3." if ".decoder." in k else ".norm2.")
        out[k] = value
    for key in [k for k in out if ".q_proj." in k]:  # nn.MultiheadAttention packs q, k, v
        prefix, kind = key.split(".q_proj.")
        out[f"{prefix}.in_proj_{kind}"] = torch.cat([out.pop(f"{prefix}.{p}_proj.{kind}") for p in "qkv"])
    return out


@pytest.fixture(scope="session")
def make_hf_detr():
    """``make_hf_detr(**DetrConfig overrides)`` → transformers' DetrForObjectDetection, random, eval."""
    return _hf_detr


@pytest.fixture(scope="session")
def to_facebookresearch():
    """``to_facebookresearch(hf state dict)`` → the same weights under facebookresearch/detr's key names."""
    return _facebookresearch_layout
