"""``sensorium export`` takes the public DETRs: a facebookresearch-layout checkpoint (random
weights, original key names) is read through the importer and exported with its parity recorded."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import torch
from typer.testing import CliRunner

from sensorium.models.hub import registry
from sensorium.models.hub import weights as w
from sensorium.models.zoo.detr_public import public_detr_spec
from sensorium.models.zoo.importers.detr import PUBLIC_DETR
from sensorium.models.zoo.detr_shapes import build_detr_from_config
from sensorium.pipeline.cli.models import app


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
    torch.save({"model": _facebookresearch_layout(build_detr_from_config(config).state_dict())}, pth)
    w._load_builtin_weights()
    monkeypatch.setattr(w, "_REGISTRY", dict(w._REGISTRY))
    registry._load_builtin_models()
    monkeypatch.setattr(registry._REGISTRY, "_specs", dict(registry._REGISTRY._specs))
    public = w.get_weights("detr-r50-coco")
    w.register_weights(w.WeightsEntry(name="detr-export-test", filename=pth.name, sha256=None, sources=(w.LocalPath(str(pth)),),
                                      license=public.license, description="random weights", input_size=public.input_size,
                                      mean=public.mean, std=public.std, labels=public.labels, format="torch", importer=public.importer))
    registry.register_model(public_detr_spec("detr-export-test", "resnet18"))
    result = CliRunner().invoke(app, ["export", "detr-export-test", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "detr-export-test.manifest.json").read_text())
    assert manifest["model"] == "detr-export-test.onnx" and manifest["weights"]["name"] == "detr-export-test"
    parity = manifest["files"][0]["parity"]
    assert parity["max_abs_error"] and all(e <= parity["tolerance"] for e in parity["max_abs_error"].values())
    assert manifest["meta"]["labels"][1] == "person" and manifest["meta"]["labels"][12] == "N/A"
