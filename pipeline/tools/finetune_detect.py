"""Fine-tuning a DETR with SPP on a user's COCO-format data set (``sensorium train detect
--init-from detr-r50-coco --data instances.json``), with checkpoints and exact resume.

The start: a registered name (imported into the cache on first use), an imported or trained
``.pt`` with its JSON, a training checkpoint, a facebookresearch ``.pth`` or a Hugging Face
folder. Its SPP block is zero-initialised when the checkpoint has none (the public ones), so
step 0 computes exactly what the published model does; training makes it active.

Classes are the data set's categories (:class:`~sensorium.pipeline.io.coco_dataset.CocoDataset`).
The class head is rebuilt for them: a category whose name the start model knows keeps that
model's row (weights and bias), the no-object row is kept, and a category it does not know
gets a fresh row, initialised as DETR initialises its head (``nn.Linear``'s default) and
learnt from the data. Everything else (backbone, transformer, box head, queries) is kept.

Batch ``k`` holds positions ``k*B .. k*B+B-1`` of an endless sequence of per-epoch
permutations seeded with (seed, epoch), so a batch is a pure function of (seed, step) and
``--resume`` continues exactly. ``OUT/last.pt`` is the checkpoint; at the end ``OUT/model.pt``
and ``OUT/model.json`` are the weights every stage, ``eval`` and ``export`` take.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from sensorium.models.arch.detr import DETR
from sensorium.models.arch.detr_checkpoint import load_detr_weights
from sensorium.models.training.detr_loss import SetCriterion
from sensorium.models.training.detr_train import Batches, TrainConfig, make_optimizer, train_steps
from sensorium.models.zoo.detr_contract import DetrContract, contract_for_weights, default_max_size
from sensorium.models.zoo.detr_shapes import DetrConfig, build_detr_from_config, load_trained_detr
from sensorium.pipeline.io.coco_dataset import CocoDataset, CocoSource
from sensorium.pipeline.tools.train_detect import CHECKPOINT, METRICS, _atomic_save
from sensorium.stages.detect.stage import preprocess
from sensorium.stages.images import as_rgb

log = logging.getLogger(__name__)
WEIGHTS = "model.pt"


@dataclasses.dataclass(frozen=True)
class StartModel:
    """A DETR to fine-tune from: the model (eval mode), its architecture and contract."""

    model: DETR
    config: DetrConfig
    contract: DetrContract
    source: str


def _public(path: Path, backbone: str) -> StartModel:
    """A facebookresearch ``.pth`` (of ``backbone``) or a Hugging Face folder/``.safetensors`` (not yet imported)."""
    from sensorium.models.zoo.importers.detr import read_detr_checkpoint
    from sensorium.models.zoo.public_weights import IMAGENET_MEAN, IMAGENET_STD

    state, config, labels, _ = read_detr_checkpoint(path, backbone=backbone)
    model = build_detr_from_config(config).eval()
    load_detr_weights(model, state, source=str(path))
    contract = DetrContract(labels=labels, mean=IMAGENET_MEAN, std=IMAGENET_STD, min_size=config.image_size,
                            max_size=default_max_size(config.image_size))
    return StartModel(model, config, contract, str(path))


def load_start(init_from: str, *, allow_download: bool = False, backbone: str = "resnet50") -> StartModel:
    """The model ``init_from`` names (see the module docstring for what it may be); ``backbone``
    applies to a facebookresearch ``.pth``, which does not record it."""
    from sensorium.models.zoo.importers.prepared import prepare

    p = Path(init_from)
    if p.is_dir() or p.suffix == ".safetensors":
        return _public(p, backbone)
    if p.is_file() and not p.with_suffix(".json").is_file():
        try:  # tensors and plain values only: a file from elsewhere runs no code when read
            blob = torch.load(p, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - not one of ours; the public reader names what is wrong
            blob = None
        if not (isinstance(blob, dict) and "config" in blob):
            return _public(p, backbone)  # no contract of ours: a published checkpoint
    elif not p.is_file() and p.suffix in (".pt", ".pth"):
        raise FileNotFoundError(f"--init-from: no such file: {p}")
    weights = prepare(init_from, allow_download=allow_download)  # a registered name: imported into the cache once
    model, config = load_trained_detr(weights)
    return StartModel(model, config, contract_for_weights(weights), weights)


def adapt_classes(start: StartModel, labels: tuple[str, ...]) -> tuple[DETR, DetrConfig]:
    """``start``'s model with a class head for ``labels`` (the module docstring says how rows
    are kept or made); with the start's own labels, the same model."""
    config = dataclasses.replace(start.config, num_classes=len(labels), spp=True)
    model = build_detr_from_config(config)
    old = start.model.state_dict()
    new_head = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("class_embed.")}
    known = {name: i for i, name in reversed(list(enumerate(start.contract.labels))) if name != "N/A"}
    for j, name in enumerate(labels):
        if name in known:
            new_head["class_embed.weight"][j] = old["class_embed.weight"][known[name]]
            new_head["class_embed.bias"][j] = old["class_embed.bias"][known[name]]
    new_head["class_embed.weight"][-1] = old["class_embed.weight"][-1]  # no-object
    new_head["class_embed.bias"][-1] = old["class_embed.bias"][-1]
    state = {k: v for k, v in old.items() if not k.startswith("class_embed.")} | new_head
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("spp.") for k in missing):
        raise ValueError(f"{start.source}: does not fit {config}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model, config


def coco_batches(ds: CocoDataset, contract: DetrContract, *, seed: int, batch_size: int) -> Batches:
    """Batch ``k`` of the endless permuted sequence (module docstring): images resized and
    normalised by ``contract`` and padded with a mask, as the detect stage does; targets'
    boxes cxcywh in [0, 1] of each image, labels as class indexes."""
    n = len(ds)

    def batch(k: int) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
        positions = range(k * batch_size, (k + 1) * batch_size)
        order = {e: np.random.default_rng([seed, e]).permutation(n) for e in {p // n for p in positions}}
        images, targets = [], []
        for p in positions:
            img, boxes, classes = ds.load(int(order[p // n][p % n]))
            img = as_rgb(img, name=f"image {p % n}")
            h, w = img.shape[:2]
            xyxy = torch.as_tensor(boxes, dtype=torch.float32) / torch.tensor([w, h, w, h], dtype=torch.float32)
            cxcywh = torch.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2,
                                  xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]], 1)
            images.append(img)
            targets.append({"labels": torch.as_tensor(classes, dtype=torch.int64), "boxes": cxcywh})
        pixels, mask = preprocess(images, min_size=contract.min_size, max_size=contract.max_size, mean=contract.mean, std=contract.std)
        return torch.from_numpy(pixels), torch.from_numpy(mask), targets

    return batch


@dataclasses.dataclass(frozen=True)
class FinetuneData:
    """The data set and the resize to train at (None: the start model's own); backbone: of a
    facebookresearch ``.pth`` start (it does not record it)."""

    source: CocoSource
    min_size: int | None = None
    max_size: int | None = None
    backbone: str = "resnet50"


def _record(data: FinetuneData, ds: CocoDataset, contract: DetrContract) -> dict[str, Any]:
    return {"data": dataclasses.asdict(data), "labels": list(ds.labels), "category_ids": list(ds.category_ids),
            "mean": list(contract.mean), "std": list(contract.std),
            "resize": {"min_size": contract.min_size, "max_size": contract.max_size}}


def _prepare_run(out: Path, data: FinetuneData, init_from: str, train: TrainConfig, resume: bool,
                 allow_download: bool) -> tuple[DETR, DetrConfig, CocoDataset, dict[str, Any], dict | None]:
    """(model, config, data set, what the checkpoint records, the checkpoint to resume or None)."""
    ds = CocoDataset(data.source)
    ckpt = out / CHECKPOINT
    if resume:
        if not ckpt.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt}")
        blob = torch.load(ckpt, map_location="cpu", weights_only=False)
        config = DetrConfig.from_json(blob["config"])
        model = build_detr_from_config(config)
        model.load_state_dict(blob["model"])
        record = {k: blob[k] for k in ("data", "labels", "category_ids", "mean", "std", "resize", "init_from")}
        asked = {"train": dataclasses.asdict(train), "data": dataclasses.asdict(data), "labels": list(ds.labels)}
        saved = {"train": blob["train"], "data": blob["data"], "labels": blob["labels"]}
        if json.loads(json.dumps(asked)) != json.loads(json.dumps(saved)):
            raise ValueError(f"{ckpt} was trained with {saved}, not the requested {asked}")
        return model, config, ds, record, blob
    if ckpt.exists():
        raise FileExistsError(f"{ckpt} exists: pass --resume to continue it, or choose another --out")
    start = load_start(init_from, allow_download=allow_download, backbone=data.backbone)
    min_size = data.min_size or start.contract.min_size
    contract = dataclasses.replace(start.contract, min_size=min_size, max_size=data.max_size or default_max_size(min_size))
    torch.manual_seed(train.seed)
    model, config = adapt_classes(start, ds.labels)
    config = dataclasses.replace(config, image_size=min_size)
    return model, config, ds, {**_record(data, ds, contract), "init_from": start.source}, None


def finetune_detect(out: str | Path, *, data: FinetuneData, init_from: str, train: TrainConfig, resume: bool = False,
                    checkpoint_every: int = 100, stop_after: int | None = None, allow_download: bool = False,
                    on_step: Callable[[dict[str, float]], None] | None = None) -> Path:
    """Fine-tune into ``out``; returns ``out/model.pt`` (with ``model.json``) once the schedule
    is done, else the checkpoint. ``train.pretrain_steps`` must be 0 (the start is trained)."""
    if train.pretrain_steps:
        raise ValueError(f"pretrain_steps: fine-tuning starts from a trained DETR, expected 0, got {train.pretrain_steps}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model, config, ds, record, blob = _prepare_run(out, data, init_from, train, resume, allow_download)
    contract = DetrContract(labels=ds.labels, mean=tuple(record["mean"]), std=tuple(record["std"]), **record["resize"])
    optimizer = make_optimizer(model, train)
    start = 0
    if blob is not None:
        optimizer.load_state_dict(blob["optimizer"])
        torch.set_rng_state(blob["rng"])
        start = int(blob["step"])
        log.info("resuming %s at step %d", out / CHECKPOINT, start)
    stop = train.steps if stop_after is None else min(train.steps, start + stop_after)
    batches = coco_batches(ds, contract, seed=train.seed, batch_size=train.batch_size)

    def save(step: int) -> None:
        _atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "phase": "detr",
                      "config": config.to_json(), "train": dataclasses.asdict(train), "rng": torch.get_rng_state(), **record},
                     out / CHECKPOINT)

    with open(out / METRICS, "a") as metrics:
        for m in train_steps(model, SetCriterion(config.num_classes), optimizer, train, start=start, stop=stop, batches=batches):
            metrics.write(json.dumps(m) + "\n")
            metrics.flush()
            if int(m["step"]) % checkpoint_every == 0 or int(m["step"]) == stop:
                save(int(m["step"]))
            if on_step is not None:
                on_step(m)
    if stop < train.steps:
        return out / CHECKPOINT
    return write_weights(out / CHECKPOINT, out / WEIGHTS)


def write_weights(checkpoint: Path, dest: Path) -> Path:
    """The checkpoint's model as a float32 state dict ``dest`` and its contract ``dest.json``
    (architecture, labels, COCO category ids, mean/std, resize, data, start, sha256)."""
    from sensorium.models.hub.files import sha256_file

    blob = torch.load(checkpoint, map_location="cpu", weights_only=False)
    _atomic_save(blob["model"], dest)
    meta = {k: blob[k] for k in ("config", "labels", "category_ids", "mean", "std", "resize", "data", "train", "init_from", "step")}
    dest.with_suffix(".json").write_text(json.dumps({**meta, "sha256": sha256_file(dest, fresh=True)}, indent=2) + "\n")
    return dest
