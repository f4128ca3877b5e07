"""Imported public DETRs through ``sensorium run`` and ``sensorium batch`` on a real photo.

One set of random weights in the paper's architecture (ResNet-18 backbone, the importer's
smallest) is written in both public layouts: a Hugging Face ``save_pretrained`` folder and a
facebookresearch ``.pth`` with the original key names. Both import to the same weights, so one
ONNX export (the detect stage's own, into a test cache) serves every test. The detections that
come out of Ray must be transformers' DetrForObjectDetection's on the same input within 1e-4,
at DETR's 800/1333 px resize, which nobody sets: it comes from the imported weights' contract.
"""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sensorium.models.zoo.coco_labels import COCO91
from sensorium.models.zoo.public_weights import IMAGENET_MEAN, IMAGENET_STD
from sensorium.stages.detect.stage import DetectConfig, DetectStage, from_detr, preprocess
from sensorium.stages.results import Detections

runner = CliRunner()
TOL = 1e-4


@pytest.fixture(scope="module")
def imported(tmp_path_factory, make_hf_detr, to_facebookresearch):
    """{"hf": transformers' model, "huggingface"/"facebookresearch": (imported .pt, labels), "onnx": the shared export}."""
    from safetensors.torch import load_file

    from sensorium.models.zoo.detr_shapes import onnx_for_weights
    from sensorium.pipeline.cli.models import app

    root = tmp_path_factory.mktemp("detr-run")
    before = os.environ.get("SENSORIUM_CACHE")
    os.environ["SENSORIUM_CACHE"] = str(root / "cache")  # the export goes to the test's cache, not the user's
    hf = make_hf_detr(backbone="resnet18")
    hf.save_pretrained(root / "hf")
    torch.save({"model": to_facebookresearch(load_file(str(root / "hf" / "model.safetensors")))}, root / "detr-r18.pth")
    out = {"hf": hf}
    for layout, source, extra in (("huggingface", root / "hf", []), ("facebookresearch", root / "detr-r18.pth", ["--backbone", "resnet18"])):
        pt = root / layout / "detr-r18.pt"  # one file name: torch.save records it inside the file
        res = runner.invoke(app, ["models", "import", "detr", str(source), "--out", str(pt), *extra])
        assert res.exit_code == 0, res.output
        out[layout] = (pt, tuple(json.loads(pt.with_suffix(".json").read_text())["labels"]))
    # both layouts import to the same bytes, so the detect stage's export (by sha256) is made once
    assert out["huggingface"][0].read_bytes() == out["facebookresearch"][0].read_bytes()
    out["onnx"] = onnx_for_weights(str(out["huggingface"][0]))[0]
    assert onnx_for_weights(str(out["facebookresearch"][0]))[0] == out["onnx"]
    yield out
    if before is None:
        os.environ.pop("SENSORIUM_CACHE", None)
    else:
        os.environ["SENSORIUM_CACHE"] = before


def _reference(hf, image: np.ndarray, labels: tuple[str, ...]) -> Detections:
    """transformers' outputs on DETR's own pre-processing (800/1333, ImageNet), post-processed as the stage does."""
    batch, mask = preprocess([image], min_size=800, max_size=1333, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    with torch.no_grad():
        ref = hf(pixel_values=torch.from_numpy(batch), pixel_mask=torch.from_numpy(~mask).long())
    return from_detr(ref.logits.numpy(), ref.pred_boxes.numpy(), [image.shape[:2]], labels, score_threshold=0.0, max_detections=100)[0]


def _assert_same(got: Detections, want: Detections, image_shape: tuple[int, int]) -> None:
    """Every query's detection within TOL (boxes as fractions of the image, scores), paired by
    an assignment: a random DETR's queries give near-equal boxes whose order may swap."""
    from scipy.optimize import linear_sum_assignment

    h, w = image_shape
    assert len(got) == len(want) == 100 and got.class_names == want.class_names
    scale = np.array([w, h, w, h], np.float32)
    g = np.concatenate([got.boxes / scale, got.scores[:, None]], 1)
    r = np.concatenate([want.boxes / scale, want.scores[:, None]], 1)
    cost = np.abs(g[:, None] - r[None]).max(-1) + (got.class_id[:, None] != want.class_id[None])  # (100, 100)
    rows, cols = linear_sum_assignment(cost)
    assert cost[rows, cols].max() <= TOL


def _options(pt, onnx) -> list[str]:
    return ["--set", f"detect.weights={pt}", "--set", f"detect.onnx={onnx}", "--set", "detect.score_threshold=0",
            "--set", "detect.max_detections=100", "--set", "detect.threads=1"]


def test_the_imported_weights_bring_their_resize_and_an_explicit_one_wins(imported):
    pt, labels = imported["facebookresearch"]
    assert labels == COCO91
    stage = DetectStage(DetectConfig(weights=str(pt), onnx=str(imported["onnx"])))
    stage.setup()
    assert stage.resize == (800, 1333) and stage._norm == {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    small = DetectStage(DetectConfig(weights=str(pt), onnx=str(imported["onnx"]), min_size=400))
    small.setup()
    assert small.resize == (400, 1333)
    with pytest.raises(ValueError, match="min_size <= max_size"):
        DetectConfig(min_size=500, max_size=400)


@pytest.mark.slow
def test_run_gives_transformers_detections_for_the_facebookresearch_import(imported, ray_cluster, data_dir, tmp_path):
    from sensorium.pipeline.cli.run import app

    pt, labels = imported["facebookresearch"]
    photo = data_dir / "photos" / "bus.jpg"
    res = runner.invoke(app, ["run", "--source", str(photo), "--stages", "detect", "--sinks", "jsonl", "--out", str(tmp_path),
                              *_options(pt, imported["onnx"])])
    assert res.exit_code == 0, res.output
    frames = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert len(frames) == 1 and not frames[0]["errors"]
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    got = Detections.from_dict(frames[0]["results"]["detect"])
    _assert_same(got, _reference(imported["hf"], image, labels), image.shape[:2])
    assert "person" in got.class_names and got.class_names[12] == "N/A"


@pytest.mark.slow
def test_batch_gives_transformers_detections_for_the_huggingface_import(imported, ray_cluster, data_dir, tmp_path):
    from sensorium.pipeline.batch.job import iter_rows
    from sensorium.pipeline.cli.batch import app

    pt, labels = imported["huggingface"]
    photo = data_dir / "photos" / "zidane.jpg"
    res = runner.invoke(app, ["batch", "--input", str(photo), "--stages", "detect", "--output", str(tmp_path / "out"),
                              *_options(pt, imported["onnx"])])
    assert res.exit_code == 0, res.output
    rows = list(iter_rows(tmp_path / "out"))
    assert len(rows) == 1 and rows[0]["path"].endswith("zidane.jpg")
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    got = Detections.from_dict(json.loads(rows[0]["results"])["detect"])
    _assert_same(got, _reference(imported["hf"], image, labels), image.shape[:2])
