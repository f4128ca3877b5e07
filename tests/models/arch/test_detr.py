"""DETR: loads the public checkpoint layout (parity with transformers' DETR), SPP is an identity
at initialisation, checkpoint errors name the keys."""

from __future__ import annotations

import os

import pytest
import torch

from sensorium.models.arch.detr import build_detr
from sensorium.models.arch.detr_checkpoint import load_detr_weights, read_state_dict


@pytest.fixture(scope="module")
def hf_checkpoint(tmp_path_factory, make_hf_detr):
    """transformers' DetrForObjectDetection (the facebook/detr-resnet-50 architecture, timm
    ResNet-50 backbone) with random weights and randomised BN statistics, saved to disk."""
    hf = make_hf_detr()
    out = tmp_path_factory.mktemp("detr")
    hf.save_pretrained(out)
    return hf, out / "model.safetensors"


def _inputs():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 160, 224, generator=g)
    pixel_mask = torch.ones(2, 160, 224, dtype=torch.long)
    pixel_mask[1, :, 180:] = 0  # the second image is padded right and bottom
    pixel_mask[1, 130:, :] = 0
    return x, pixel_mask


@pytest.mark.slow
def test_public_layout_loads_with_parity(hf_checkpoint):
    hf, path = hf_checkpoint
    state = read_state_dict(path)
    assert any(k.startswith("model.backbone.conv_encoder.model.layer4") for k in state)  # the published layout
    ours = build_detr(num_classes=91, spp=True).eval()
    fresh_logits, _ = ours(*_for_ours(_inputs()))
    load_detr_weights(ours, state)
    x, pm = _inputs()
    with torch.no_grad():
        ref = hf(pixel_values=x, pixel_mask=pm)
        logits, boxes = ours(x, pm == 0)
    assert (ref.logits - logits).abs().max().item() <= 1e-4
    assert (ref.pred_boxes - boxes).abs().max().item() <= 1e-4
    assert (fresh_logits - logits).abs().max().item() > 0.1  # the load changed something


def _for_ours(inputs):
    x, pm = inputs
    return x, pm == 0


def test_spp_is_identity_until_trained():
    torch.manual_seed(0)
    a = build_detr(num_classes=5, backbone="resnet-lite", dim=64, heads=4, enc_layers=1, dec_layers=2, ffn_dim=128, num_queries=10, spp=False).eval()
    b = build_detr(num_classes=5, backbone="resnet-lite", dim=64, heads=4, enc_layers=1, dec_layers=2, ffn_dim=128, num_queries=10, spp=True).eval()
    b.load_state_dict(a.state_dict(), strict=False)
    x = torch.randn(2, 3, 96, 128)
    mask = torch.zeros(2, 96, 128, dtype=torch.bool)
    mask[0, :, 100:] = True
    with torch.no_grad():
        la, ba = a(x, mask)
        lb, bb = b(x, mask)
        assert torch.equal(la, lb) and torch.equal(ba, bb)
        b.spp.fuse.weight.normal_(0, 0.05)
        lc, _ = b(x, mask)
    assert (lc - la).abs().max() > 1e-3


def test_aux_outputs_for_every_decoder_layer():
    m = build_detr(num_classes=3, backbone="resnet-lite", dim=32, heads=2, enc_layers=1, dec_layers=3, ffn_dim=64, num_queries=7)
    out = m.forward_train(torch.randn(1, 3, 64, 64), torch.zeros(1, 64, 64, dtype=torch.bool))
    assert out["logits"].shape == (1, 7, 4) and out["boxes"].shape == (1, 7, 4) and len(out["aux"]) == 2
    assert ((out["boxes"] >= 0) & (out["boxes"] <= 1)).all()


def test_checkpoint_that_does_not_fit_names_the_keys(tmp_path):
    m = build_detr(num_classes=3, backbone="resnet-lite", dim=32, heads=2, enc_layers=1, dec_layers=1, ffn_dim=64, num_queries=5)
    state = dict(m.state_dict())
    state.pop("class_embed.weight")
    state["bogus.weight"] = torch.zeros(1)
    state["bbox_embed.layers.2.weight"] = torch.zeros(5, 32)
    with pytest.raises(ValueError) as info:
        load_detr_weights(m, state)
    msg = str(info.value)
    assert "unexpected: bogus.weight" in msg and "missing: class_embed.weight" in msg and "bbox_embed.layers.2.weight" in msg
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        read_state_dict(tmp_path / "nope.safetensors")
