"""COCO mAP of a DETR (pycocotools): the shapes model on a held-out generated split, or any
DETR weights on a user's COCO-format set (:func:`evaluate_coco`).

A split is a seed: ``make_image(split_seed, i)`` for i < n, drawn with the data config the
model was trained on (from its checkpoint or the JSON beside the shipped weights). Training
uses seed 0, so any other seed is images the model has never seen.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from sensorium.models.zoo.detr_shapes import SHAPES, load_trained_detr, weights_config_path
from sensorium.models.data.shapes import CLASSES, ShapesConfig, make_image
from sensorium.stages.detect.stage import from_detr, preprocess, to_coco

if TYPE_CHECKING:
    from sensorium.pipeline.io.coco_dataset import CocoSource

METRIC_NAMES = ("mAP", "mAP50", "mAP75", "AP_small", "AP_medium", "AP_large")


def _shapes_for(weights: Path) -> ShapesConfig:
    blob_meta = weights_config_path(weights)
    if blob_meta.is_file():
        return ShapesConfig(**json.loads(blob_meta.read_text()).get("shapes", {}))
    blob = torch.load(weights, map_location="cpu", weights_only=False)
    return ShapesConfig(**blob["shapes"]) if isinstance(blob, dict) and "shapes" in blob else SHAPES


def coco_ground_truth(split_seed: int, n: int, shapes: ShapesConfig) -> tuple[dict[str, Any], list[np.ndarray]]:
    """(COCO ground-truth dict, images) for images 0..n-1 of the split; category id = class + 1."""
    images, anns, infos = [], [], []
    for i in range(n):
        img, boxes, labels = make_image(split_seed, i, shapes)
        images.append(img)
        infos.append({"id": i, "height": img.shape[0], "width": img.shape[1]})
        for (x1, y1, x2, y2), c in zip(boxes.tolist(), labels.tolist()):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": c + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                         "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    cats = [{"id": i + 1, "name": name} for i, name in enumerate(CLASSES)]
    return {"images": infos, "annotations": anns, "categories": cats}, images


def coco_map(gt: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, float]:
    """pycocotools bbox evaluation → {mAP, mAP50, mAP75, AP_small, AP_medium, AP_large}
    (-1 where a bucket has no ground truth, 0 when there are no results)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        return {k: 0.0 for k in METRIC_NAMES}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: float(v) for k, v in zip(METRIC_NAMES, ev.stats[:6])}


@torch.inference_mode()
def predict_torch(model: torch.nn.Module, images: list[np.ndarray], *, size: int, batch_size: int = 8) -> list:
    """Detections (score >= 0, every query) of a torch DETR, pre/post-processed as the stage does."""
    out = []
    for s in range(0, len(images), batch_size):
        chunk = images[s: s + batch_size]
        batch, mask = preprocess(chunk, min_size=size, max_size=size * 2)
        logits, boxes = model(torch.from_numpy(batch), torch.from_numpy(mask))
        out += from_detr(logits.numpy(), boxes.numpy(), [im.shape[:2] for im in chunk], CLASSES,
                         score_threshold=0.0, max_detections=logits.shape[1])
    return out


def evaluate_model(model: torch.nn.Module, *, size: int, shapes: ShapesConfig, split_seed: int, n: int, batch_size: int = 8) -> dict[str, float]:
    """COCO metrics of ``model`` on images 0..n-1 of ``split_seed``."""
    if n < 1:
        raise ValueError(f"n: expected at least one image, got {n}")
    gt, images = coco_ground_truth(split_seed, n, shapes)
    dets = predict_torch(model.eval(), images, size=size, batch_size=batch_size)
    results = [r for i, d in enumerate(dets) for r in to_coco(d, i)]
    return coco_map(gt, results)


def evaluate_detr(weights: str | Path, *, split_seed: int = 1000, n: int = 200, batch_size: int = 8) -> dict[str, Any]:
    """Load ``weights`` (shipped .pt with JSON, or a training checkpoint) and measure it."""
    weights = Path(weights)
    model, config = load_trained_detr(weights)
    shapes = _shapes_for(weights)
    metrics = evaluate_model(model, size=config.image_size, shapes=shapes, split_seed=split_seed, n=n, batch_size=batch_size)
    return {**metrics, "weights": str(weights), "split_seed": split_seed, "n": n, "spp": config.spp}


def evaluate_coco(weights: str, source: "CocoSource", *, min_size: int | None = None, max_size: int | None = None,
                  batch_size: int = 4, allow_download: bool = False) -> dict[str, Any]:
    """COCO metrics of ``weights`` (a registered name, an imported/shipped/fine-tuned ``.pt``
    with its JSON, or a training checkpoint) on a COCO-format set. Images are resized and
    normalised as the weights' contract says (``min_size``/``max_size`` override it); a
    predicted class counts as the data set's category of the same name, and classes the set
    does not have (COCO's "N/A" gaps) are dropped."""
    from sensorium.models.zoo.detr_contract import contract_for_weights
    from sensorium.models.zoo.importers.prepared import prepare
    from sensorium.pipeline.io.coco_dataset import CocoDataset

    ds = CocoDataset(source)
    pt = prepare(weights, allow_download=allow_download)
    if not Path(pt).is_file():
        from sensorium.models.hub import weights as registry

        pt = str(registry.resolve(pt, allow_download=allow_download))
    contract = contract_for_weights(pt, CLASSES)
    model, config = load_trained_detr(pt)
    size = (min_size or contract.min_size, max_size or max(contract.max_size, min_size or 0))
    by_name = dict(zip(ds.labels, ds.category_ids))
    category_ids = [by_name.get(name, -1) for name in contract.labels]
    results = []
    with torch.inference_mode():
        for s in range(0, len(ds), batch_size):
            images = [ds.image(i) for i in range(s, min(len(ds), s + batch_size))]
            batch, mask = preprocess(images, min_size=size[0], max_size=size[1], mean=contract.mean, std=contract.std)
            logits, boxes = model(torch.from_numpy(batch), torch.from_numpy(mask))
            dets = from_detr(logits.numpy(), boxes.numpy(), [im.shape[:2] for im in images], contract.labels,
                             score_threshold=0.0, max_detections=logits.shape[1])
            for i, d in zip(range(s, s + len(images)), dets):
                results += [r for r in to_coco(d, ds.image_ids[i], category_ids=category_ids) if r["category_id"] >= 0]
    metrics = coco_map(ds.ground_truth(), results)
    return {**metrics, "weights": str(weights), "data": source.annotations, "n": len(ds), "min_size": size[0], "max_size": size[1],
            "spp": config.spp, "matched_classes": sum(c >= 0 for c in category_ids)}
