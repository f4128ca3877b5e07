"""Fine-tuning a public-layout DETR on a COCO-format set, end to end through the commands a
user runs: the test writes generated shapes as PNG files + an instances JSON, and a small DETR
with random weights in the Hugging Face ``save_pretrained`` layout (nothing downloads)."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sensorium.models.data.shapes import CLASSES, ShapesConfig, make_image
from sensorium.models.training.detr_train import TrainConfig
from sensorium.pipeline.io.coco_dataset import CocoDataset, CocoSource
from sensorium.pipeline.tools.finetune_detect import FinetuneData, adapt_classes, finetune_detect, load_start

runner = CliRunner()
SHAPES = ShapesConfig(size=64, min_scale=14.0, max_scale=40.0, max_objects=3, clutter=4)
#: COCO-style ids with gaps: class index i is category CAT_IDS[i]
CAT_IDS = (2, 3, 5, 8, 13, 21)
#: the start model's classes: five of the data's shapes and one the data does not have
START_LABELS = ("square", "circle", "triangle", "star", "ring", "dog")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread, as the CLI runs here (the machine is shared; many threads only contend)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory):
    """6 generated images as PNG files in images/ and their instances JSON (COCO bbox xywh)."""
    root = tmp_path_factory.mktemp("coco")
    (root / "images").mkdir()
    images, anns = [], []
    for i in range(6):
        img, boxes, labels = make_image(7, i, SHAPES)
        cv2.imwrite(str(root / "images" / f"{i:03d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        images.append({"id": 100 + i, "file_name": f"images/{i:03d}.png", "height": img.shape[0], "width": img.shape[1]})
        for (x1, y1, x2, y2), c in zip(boxes.tolist(), labels.tolist()):
            anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": CAT_IDS[c], "bbox": [x1, y1, x2 - x1, y2 - y1],
                         "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    cats = [{"id": cid, "name": name} for cid, name in zip(CAT_IDS, CLASSES)]
    path = root / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


@pytest.fixture(scope="module")
def hf_detr(tmp_path_factory):
    """(transformers' DETR, its save_pretrained folder): ResNet-18, 1+1 layers, random weights."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    torch.manual_seed(0)
    cfg = transformers.DetrConfig(use_timm_backbone=True, backbone="resnet18", use_pretrained_backbone=False, d_model=32,
                                  encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                                  encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=8, num_labels=len(START_LABELS),
                                  id2label=dict(enumerate(START_LABELS)), label2id={n: i for i, n in enumerate(START_LABELS)})
    hf = transformers.DetrForObjectDetection(cfg).eval()
    folder = tmp_path_factory.mktemp("hf-detr")
    hf.save_pretrained(folder)
    return hf, folder


def test_the_data_set_reads_categories_in_id_order_and_boxes_as_xyxy(coco_set):
    ds = CocoDataset(CocoSource(str(coco_set)))
    assert len(ds) == 6 and ds.labels == CLASSES and ds.category_ids == CAT_IDS
    img, boxes, classes = ds.load(0)
    ref_img, ref_boxes, ref_labels = make_image(7, 0, SHAPES)
    assert np.array_equal(img, ref_img) and np.allclose(boxes, ref_boxes, atol=1e-4) and np.array_equal(classes, ref_labels)


@pytest.mark.parametrize("change, message", [
    (lambda p: p.with_name("missing.json"), "COCO annotations not found"),
    (lambda p: (p.with_name("bad.json").write_text('{"images": 1}'), p.with_name("bad.json"))[1], "expected a COCO instances JSON"),
])
def test_bad_data_is_named(coco_set, change, message):
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        CocoDataset(CocoSource(str(change(coco_set))))


def test_step_zero_computes_what_the_public_model_does_and_known_classes_keep_their_rows(hf_detr):
    """The SPP block enters at zero: with its own labels the start model is transformers' DETR
    exactly; for the data's labels the rows of the classes it knows are its own."""
    hf, folder = hf_detr
    start = load_start(str(folder))
    same, _ = adapt_classes(start, START_LABELS)
    ours, config = adapt_classes(start, CLASSES)
    assert config.spp and not same.spp.fuse.weight.any() and config.num_classes == len(CLASSES)
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(2, 64, 96, dtype=torch.bool)
    mask[1, :, 70:] = True
    with torch.no_grad():
        ref = hf(pixel_values=x, pixel_mask=(~mask).long())
        logits, boxes = same.eval()(x, mask)
        new_logits, new_boxes = ours.eval()(x, mask)
    assert (ref.logits - logits).abs().max() <= 1e-4 and (ref.pred_boxes - boxes).abs().max() <= 1e-4
    assert torch.allclose(new_boxes, boxes, atol=1e-6)
    for j, name in enumerate(CLASSES[:5]):  # circle..ring are known to the start model; cross is new
        assert torch.allclose(new_logits[..., j], logits[..., START_LABELS.index(name)], atol=1e-5)
    assert torch.allclose(new_logits[..., -1], logits[..., -1], atol=1e-5)  # no-object kept


def _losses(run):
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_resume_continues_exactly(tmp_path, coco_set, hf_detr):
    kw = dict(data=FinetuneData(CocoSource(str(coco_set)), min_size=64), init_from=str(hf_detr[1]),
              train=TrainConfig(steps=4, batch_size=4, warmup=1, decay_at=(), pretrain_steps=0, backbone_lr_mult=0.1, seed=1))
    assert finetune_detect(tmp_path / "a", **kw).name == "model.pt"
    assert finetune_detect(tmp_path / "b", stop_after=2, **kw).name == "last.pt"  # 4 images a batch: epochs cross at step 2
    with pytest.raises(FileExistsError, match="--resume"):
        finetune_detect(tmp_path / "b", **kw)
    finetune_detect(tmp_path / "b", resume=True, **kw)
    assert _losses(tmp_path / "a") == pytest.approx(_losses(tmp_path / "b"), abs=1e-6) and len(_losses(tmp_path / "a")) == 4


def test_train_then_eval_through_the_cli(tmp_path, coco_set, hf_detr):
    from sensorium.deploy.cli import app

    run = tmp_path / "run"
    res = runner.invoke(app, ["train", "detect", "--init-from", str(hf_detr[1]), "--data", str(coco_set), "--out", str(run),
                              "--steps", "3", "--batch-size", "2", "--min-size", "64", "--checkpoint-every", "1", "--threads", "1"])
    assert res.exit_code == 0, res.output
    meta = json.loads((run / "model.json").read_text())
    assert meta["labels"] == list(CLASSES) and meta["category_ids"] == list(CAT_IDS) and meta["config"]["spp"]
    assert meta["resize"] == {"min_size": 64, "max_size": 107} and len(_losses(run)) == 3
    res = runner.invoke(app, ["eval", "detect", "--weights", str(run / "model.pt"), "--data", str(coco_set), "--json", "--threads", "1"])
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.output)
    assert metrics["n"] == 6 and metrics["matched_classes"] == 6 and metrics["min_size"] == 64
    assert set(metrics) >= {"mAP", "mAP50", "mAP75", "AP_small", "AP_medium", "AP_large"}
    assert all(-1.0 <= metrics[k] <= 1.0 for k in ("mAP", "mAP50"))


def test_cli_errors_name_what_was_wrong(tmp_path, coco_set, monkeypatch):
    from sensorium.deploy.cli import app

    monkeypatch.setenv("SENSORIUM_CACHE", str(tmp_path / "empty-cache"))
    res = runner.invoke(app, ["train", "detect", "--data", str(coco_set), "--out", str(tmp_path / "r0")])  # default start: detr-r50-coco
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "detr-r50-e632da11.pth" in text and "dl.fbaipublicfiles.com" in text, res.output

    res = runner.invoke(app, ["eval", "detect", "--data", str(tmp_path / "none.json")])
    assert res.exit_code == 2 and "COCO annotations not found" in res.output
    res = runner.invoke(app, ["train", "detect", "--data", str(coco_set), "--init-from", str(tmp_path / "none.pth"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "no such file" in res.output


def test_eval_detect_alone_runs_on_the_shipped_model():
    from sensorium.deploy.cli import app

    res = runner.invoke(app, ["eval", "detect", "--n", "2", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "mAP50" in res.output and "detr_spp_shapes" in res.output
