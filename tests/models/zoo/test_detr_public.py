"""The public DETRs export: a facebookresearch-layout checkpoint (random weights, original key
names) registered as ``sensorium export`` would find it is read through the importer into the
paper's architecture, and its ONNX graph matches torch at two batch sizes and two image sizes."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from sensorium.models.hub import registry
from sensorium.models.hub import weights as w
from sensorium.models.hub.export import FP32_TOLERANCE, build_model
from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig
from sensorium.models.zoo.detr_public import public_detr_spec
from sensorium.models.zoo.importers.detr import PUBLIC_DETR
from sensorium.models.zoo.detr_shapes import build_detr_from_config, export_detr_onnx


def _facebookresearch_layout(state):
    """Our names → facebookresearch/detr's (backbone.0.body.*, transformer.*, packed in_proj)."""
    out = {}
    for key, value in state.items():
        if key.startswith("spp."):
            continue  # the public checkpoints have no SPP block
        k = re.sub(r"^backbone\.", "backbone.0.body.", key)
        k = re.sub(r"^(encoder|decoder)\.layers\.", r"transformer.\1.layers.", k).replace("decoder.norm.", "transformer.decoder.norm.")
        out[k.replace(".cross_attn.", ".multihead_attn.")] = value
    for key in [k for k in out if ".q_proj." in k]:
        prefix, kind = key.split(".q_proj.")
        out[f"{prefix}.in_proj_{kind}"] = torch.cat([out.pop(f"{prefix}.{p}_proj.{kind}") for p in "qkv"])
    return out


@pytest.mark.slow
def test_a_public_detr_checkpoint_exports_with_parity(tmp_path, monkeypatch):
    torch.manual_seed(0)
    pth = tmp_path / "detr-r50-random.pth"
    # the paper's DETR on a ResNet-18 (the importer's third backbone): the same layout, names and
    # export path as R50's, at a fifth of the export's time (R50's layout parity: importers/test_detr.py)
    config = dataclasses.replace(PUBLIC_DETR, backbone="resnet18")
    saved = build_detr_from_config(config).state_dict()
    torch.save({"model": _facebookresearch_layout(saved)}, pth)
    w._load_builtin_weights()
    monkeypatch.setattr(w, "_REGISTRY", dict(w._REGISTRY))
    registry._load_builtin_models()
    monkeypatch.setattr(registry._REGISTRY, "_specs", dict(registry._REGISTRY._specs))
    public = w.get_weights("detr-r50-coco")
    w.register_weights(w.WeightsEntry(name="detr-export-test", filename=pth.name, sha256=None, sources=(w.LocalPath(str(pth)),),
                                      license=public.license, description="random weights", input_size=public.input_size,
                                      mean=public.mean, std=public.std, labels=public.labels, format="torch", importer=public.importer))
    spec = public_detr_spec("detr-export-test", "resnet18")
    registry.register_model(spec)
    # the registered model as `sensorium export` builds it: the publisher's .pth read through the importer
    model = build_model("detr-export-test")
    for key in ("backbone.conv1.weight", "encoder.layers.5.linear2.weight", "decoder.layers.0.cross_attn.q_proj.weight"):
        torch.testing.assert_close(model.state_dict()[key], saved[key], rtol=0, atol=0)
    # exported by the detect stage's TorchScript exporter (the dynamo one costs minutes on the
    # paper's 6+6 layers: its own path is tested on the shipped DETR in hub/test_export.py)
    graph = OnnxModel(export_detr_onnx(model, tmp_path / "detr-export-test.onnx"), RuntimeConfig(providers=("cpu",), warmup_runs=0))
    for batch, size in ((1, None), (3, (192, 224))):  # two batches, and a size other than the trace's
        images, mask = spec.example_inputs(batch, seed=batch)
        if size is not None:
            images, mask = images[..., : size[0], : size[1]].contiguous(), mask[..., : size[0], : size[1]].contiguous()
        with torch.inference_mode():
            want = model(images, mask)
        got = graph.run([images.numpy(), mask.numpy()])
        for name, expected in zip(spec.output_names, want):
            assert got[name].shape == tuple(expected.shape)
            np.testing.assert_allclose(got[name], expected.numpy(), rtol=0, atol=FP32_TOLERANCE, err_msg=f"{name} at batch {batch}")
    assert spec.meta.labels[1] == "person" and spec.meta.labels[12] == "N/A"
