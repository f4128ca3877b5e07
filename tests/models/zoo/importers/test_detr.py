"""DETR importers: a facebookresearch ``.pth`` (original key names) and a Hugging Face folder
(``save_pretrained``), both with random weights written here, import through ``sensorium models
import detr`` and then compute what transformers' DetrForObjectDetection computes (within 1e-4),
in torch and, through the detect stage's ONNX export, on onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sensorium.models.zoo.coco_labels import COCO91
from sensorium.models.zoo.detr_shapes import load_trained_detr
from sensorium.models.zoo.importers.detr import import_detr, read_detr_checkpoint
from sensorium.pipeline.cli.models import app

runner = CliRunner()


def _inputs():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 160, 224, generator=g)
    pixel_mask = torch.ones(2, 160, 224, dtype=torch.long)
    pixel_mask[1, :, 180:] = 0
    pixel_mask[1, 130:, :] = 0
    return x, pixel_mask


def _max_errors(hf, ours):
    x, pm = _inputs()
    with torch.no_grad():
        ref = hf(pixel_values=x, pixel_mask=pm)
        logits, boxes = ours(x, pm == 0)
    return (ref.logits - logits).abs().max().item(), (ref.pred_boxes - boxes).abs().max().item()


@pytest.fixture(scope="module")
def public_r50(tmp_path_factory, make_hf_detr, to_facebookresearch):
    """(HF model, its save_pretrained folder, the same weights as a facebookresearch .pth)."""
    from safetensors.torch import load_file

    hf = make_hf_detr()
    folder = tmp_path_factory.mktemp("detr-hf")
    hf.save_pretrained(folder)
    pth = folder.parent / "detr-r50-random.pth"
    fb = to_facebookresearch(load_file(str(folder / "model.safetensors")))
    assert "transformer.decoder.layers.0.multihead_attn.in_proj_weight" in fb and "backbone.0.body.layer4.2.bn3.running_var" in fb
    torch.save({"model": fb}, pth)
    return hf, folder, pth


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["facebookresearch", "huggingface"])
def test_public_checkpoint_imports_with_parity(public_r50, layout, tmp_path):
    hf, folder, pth = public_r50
    source = pth if layout == "facebookresearch" else folder
    out = tmp_path / "detr-imported.pt"
    result = runner.invoke(app, ["models", "import", "detr", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    model, config = load_trained_detr(out)
    assert config.backbone == "resnet50" and config.num_classes == 91 and config.spp
    assert not model.spp.fuse.weight.any()  # SPP enters at zero: the public outputs unchanged
    logit_err, box_err = _max_errors(hf, model)
    assert logit_err <= 1e-4 and box_err <= 1e-4
    import json

    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["source"]["layout"] == layout and len(meta["source"]["sha256"]) == 64
    if layout == "facebookresearch":
        assert tuple(meta["labels"]) == COCO91 and meta["labels"][12] == "N/A" and meta["labels"][1] == "person"


def test_the_label_map_is_cocos_91_ids_with_gaps():
    gaps = [i for i, name in enumerate(COCO91) if name == "N/A"]
    assert len(COCO91) == 91 and gaps == [0, 12, 26, 29, 30, 45, 66, 68, 69, 71, 83]
    assert COCO91[90] == "toothbrush" and COCO91[44] == "bottle"


def test_a_checkpoint_that_is_not_detr_is_refused_naming_what_was_wrong(tmp_path):
    bad = tmp_path / "other.pth"
    torch.save({"model": {"conv.weight": torch.zeros(1)}}, bad)
    with pytest.raises(ValueError, match="facebookresearch layout"):
        read_detr_checkpoint(bad)
    (tmp_path / "hf").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json and model.safetensors"):
        read_detr_checkpoint(tmp_path / "hf")
    result = runner.invoke(app, ["models", "import", "detr", str(tmp_path / "missing.pth")])
    assert result.exit_code == 2 and "not found" in result.output


@pytest.mark.slow
def test_a_small_hf_detr_runs_in_the_detect_stage_and_its_onnx_matches_transformers(tmp_path, monkeypatch, make_hf_detr):
    """A save_pretrained folder (ResNet-18, 1+1 layers) → import → the detect stage (which exports
    it to ONNX once) on onnxruntime: raw outputs within 1e-4 of transformers, detections named."""
    monkeypatch.setenv("SENSORIUM_CACHE", str(tmp_path / "cache"))
    hf = make_hf_detr(backbone="resnet18", d_model=64, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                  decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128, num_queries=10)
    hf.save_pretrained(tmp_path / "hf")
    out = import_detr(tmp_path / "hf", tmp_path / "small.pt", labels=COCO91)
    from sensorium.stages.detect.stage import DetectConfig, DetectStage

    stage = DetectStage(DetectConfig(weights=str(out), score_threshold=0.0, max_detections=3, min_size=160, max_size=224))
    image = np.random.default_rng(0).integers(0, 255, (160, 224, 3), dtype=np.uint8)
    dets = stage.detect([image])[0]
    assert len(dets) == 3 and set(dets.class_names) == set(COCO91)
    from sensorium.stages.detect.stage import preprocess

    batch, mask = preprocess([image], min_size=160, max_size=224)
    raw = stage._model.run({"images": batch, "mask": mask})
    with torch.no_grad():
        ref = hf(pixel_values=torch.from_numpy(batch), pixel_mask=torch.from_numpy(~mask).long())
    assert np.abs(raw["logits"] - ref.logits.numpy()).max() <= 1e-4
    assert np.abs(raw["boxes"] - ref.pred_boxes.numpy()).max() <= 1e-4
