"""Training DETR on the generated shapes data: data set, collate, optimiser, schedule, steps.

Pure compute (no files, no CLI): ``pipeline/tools/train_detect.py`` owns checkpoints and progress.

Two phases, one step counter. DETR trained from scratch sits for thousands of steps on its
well-known plateau (class loss at the class prior, boxes that ignore the image): its only
signal to the backbone passes through a decoder that has not yet learnt where to look. So
the backbone first learns on a dense task that needs no decoder: ``pretrain_steps`` steps of
per-class centre heatmaps (:class:`DenseHead`, sigmoid focal loss from torchvision) on the
projected backbone map. DETR then trains with that head kept as an auxiliary loss
(``dense_weight``). The head is training-only: it is not part of the DETR state dict that is
shipped and exported. Measured on this machine (docs/benchmarks.md, Detection): with the
pretrained backbone and lr 1e-4 the class loss leaves the plateau within ~500 DETR steps;
without pretraining, or at lr 3e-4, no run left it in 3000.

The training stream is infinite and indexed: batch ``k`` holds images ``k*B .. k*B+B-1`` of
the training seed, each flipped or not by a generator seeded with (seed, index). A batch is
therefore a pure function of (seed, step), so resuming at step ``k`` sees exactly the data
an uninterrupted run would, without saving any data-loader state, and no image repeats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from torchvision.ops import sigmoid_focal_loss

from sensorium.models.training.detr_loss import SetCriterion
from sensorium.models.data.shapes import ShapesConfig, make_image

_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def normalize_image(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB → (3, H, W) float32, ImageNet mean/std."""
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)
    return (x - _MEAN) / _STD


def xyxy_to_cxcywh_norm(boxes: np.ndarray, width: int, height: int) -> torch.Tensor:
    """(N, 4) xyxy pixels → (N, 4) float32 cx, cy, w, h normalised by the image size."""
    b = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    cxcywh = torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)
    return cxcywh / torch.tensor([width, height, width, height], dtype=torch.float32)


class ShapesDetection(Dataset):
    """Images ``offset .. offset+length-1`` of the generated split ``seed``.

    ``__getitem__(i) -> (image (3, S, S) float32 normalised, {"labels": (N,) int64, "boxes":
    (N, 4) float32 cxcywh in [0, 1]})``. ``flip`` mirrors half the images (decided per index),
    which the shapes' symmetric classes make label-preserving.
    """

    def __init__(self, seed: int, length: int, *, offset: int = 0, flip: bool = False, shapes: ShapesConfig = ShapesConfig()) -> None:
        if length < 0 or offset < 0:
            raise ValueError(f"expected length >= 0 and offset >= 0, got {length}, {offset}")
        self.seed, self.length, self.offset, self.flip, self.shapes = seed, length, offset, flip, shapes

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not 0 <= i < self.length:
            raise IndexError(i)
        index = self.offset + i
        img, boxes, labels = make_image(self.seed, index, self.shapes)
        h, w = img.shape[:2]
        if self.flip and np.random.default_rng([self.seed, index, 1]).random() < 0.5:
            img = img[:, ::-1]
            boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1) if len(boxes) else boxes
        return normalize_image(img), {"labels": torch.as_tensor(labels, dtype=torch.int64),
                                      "boxes": xyxy_to_cxcywh_norm(boxes, w, h)}


def collate(batch: Sequence[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """Pad images to the batch's largest H and W: (images (B, 3, H, W), mask (B, H, W) bool
    True at padding, targets). Boxes stay normalised by each image's own unpadded size, as
    DETR predicts them relative to the valid area."""
    if not batch:
        raise ValueError("collate: empty batch")
    h = max(x.shape[1] for x, _ in batch)
    w = max(x.shape[2] for x, _ in batch)
    images = torch.zeros(len(batch), 3, h, w)
    mask = torch.ones(len(batch), h, w, dtype=torch.bool)
    for i, (x, _) in enumerate(batch):
        images[i, :, : x.shape[1], : x.shape[2]] = x
        mask[i, : x.shape[1], : x.shape[2]] = False
    return images, mask, [t for _, t in batch]


def stream_batch(seed: int, step: int, batch_size: int, *, flip: bool = True, shapes: ShapesConfig = ShapesConfig()) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """Training batch ``step`` of the infinite stream over split ``seed`` (see module docstring)."""
    ds = ShapesDetection(seed, batch_size, offset=step * batch_size, flip=flip, shapes=shapes)
    return collate([ds[i] for i in range(batch_size)])


#: a training batch as a function of its stream index: (images (B, 3, H, W), mask (B, H, W), targets)
Batches = Callable[[int], tuple[torch.Tensor, torch.Tensor, list[dict]]]


@dataclass(frozen=True)
class TrainConfig:
    """steps: DETR steps (after ``pretrain_steps`` dense backbone steps at ``pretrain_lr``,
    linear warm-up over 50 steps, no decay; see the module docstring). dense_weight: weight of
    the dense auxiliary loss during DETR steps (0: off). lr: transformer/head learning rate; backbone_lr_mult scales it for the backbone (1.0:
    this backbone trains from scratch, where DETR's 0.1 is for an ImageNet-pretrained one).
    Warm-up is linear over ``warmup`` steps; the LR drops by ``decay`` at each fraction of
    ``steps`` in ``decay_at``. clip: max global gradient norm (DETR: 0.1)."""

    steps: int = 3000
    batch_size: int = 8
    lr: float = 1e-4
    backbone_lr_mult: float = 1.0
    weight_decay: float = 1e-4
    warmup: int = 100
    decay_at: tuple[float, ...] = (0.75,)
    decay: float = 0.1
    clip: float = 0.1
    flip: bool = True
    seed: int = 0
    pretrain_steps: int = 1000
    pretrain_lr: float = 1e-3
    dense_weight: float = 1.0

    @property
    def total_steps(self) -> int:
        """Backbone pretraining steps, then DETR steps, on one counter."""
        return self.pretrain_steps + self.steps


def make_optimizer(model: nn.Module, cfg: TrainConfig, head: nn.Module | None = None) -> torch.optim.AdamW:
    """AdamW with two groups: backbone (``lr * backbone_lr_mult``) and everything else (with
    the dense ``head``'s parameters when given)."""
    backbone = [p for n, p in model.named_parameters() if n.startswith("backbone.") and p.requires_grad]
    rest = [p for n, p in model.named_parameters() if not n.startswith("backbone.") and p.requires_grad]
    rest += list(head.parameters()) if head is not None else []
    return torch.optim.AdamW(
        [{"params": rest, "lr": cfg.lr, "initial_lr": cfg.lr, "name": "transformer"},
         {"params": backbone, "lr": cfg.lr * cfg.backbone_lr_mult, "initial_lr": cfg.lr * cfg.backbone_lr_mult, "name": "backbone"}],
        lr=cfg.lr, weight_decay=cfg.weight_decay,
    )


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier of the base LR at ``step`` (0-based): linear warm-up, then step decay."""
    warm = min(1.0, (step + 1) / cfg.warmup) if cfg.warmup > 0 else 1.0
    drops = sum(step >= math.floor(f * cfg.steps) for f in cfg.decay_at)
    return warm * cfg.decay**drops


def train_steps(model: nn.Module, criterion: SetCriterion, optimizer: torch.optim.Optimizer, cfg: TrainConfig,
                *, start: int = 0, stop: int | None = None, shapes: ShapesConfig = ShapesConfig(),
                head: DenseHead | None = None, batches: Batches | None = None) -> Iterator[dict[str, float]]:
    """Run steps ``start .. stop-1`` (default ``cfg.steps``), yielding after each one
    ``{"step", "lr", "loss", "cls", "l1", "giou", "grad_norm"}`` (floats; step is the number of
    steps done). The caller may checkpoint between yields; resuming at ``start`` is exact
    given the model, optimiser and torch RNG states of that moment. DETR step k reads stream
    batch ``pretrain_steps + k``. With ``head`` and ``dense_weight`` > 0 the dense loss is added
    (and reported as ``dense``); ``head``'s parameters must be in ``optimizer``. ``batches``
    replaces the shapes stream with another pure function of the stream index (a user's COCO
    data set, ``pipeline/tools/finetune_detect.py``), so resuming stays exact."""
    stop = cfg.steps if stop is None else stop
    if any("initial_lr" not in g for g in optimizer.param_groups):
        raise ValueError("optimizer param groups need 'initial_lr' (use make_optimizer)")
    model.train()
    for step in range(start, stop):
        f = lr_factor(step, cfg)
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"] * f
        if batches is None:
            images, mask, targets = stream_batch(cfg.seed, cfg.pretrain_steps + step, cfg.batch_size, flip=cfg.flip, shapes=shapes)
        else:
            images, mask, targets = batches(cfg.pretrain_steps + step)
        out = model.forward_train(images, mask)
        losses = criterion(out, targets)
        if head is not None and cfg.dense_weight > 0:
            losses["dense"] = dense_loss(head(out["features"]), targets)
            losses["loss"] = losses["loss"] + cfg.dense_weight * losses["dense"]
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], cfg.clip)
        optimizer.step()
        yield {"step": float(step + 1), "lr": optimizer.param_groups[0]["lr"], "grad_norm": float(grad_norm),
               **{k: float(v.detach()) for k, v in losses.items()}}


class DenseHead(nn.Module):
    """Training-only head: per-class centre heatmap logits from the projected backbone map,
    (B, dim, h, w) → (B, K, h, w). The bias starts at a 1.8% prior, as focal-loss heads do,
    so the first steps are not spent learning that most cells are empty."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, num_classes, 3, padding=1)
        nn.init.constant_(self.conv.bias, -4.0)
        self.num_classes = num_classes

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv(features)


def dense_targets(targets: Sequence[dict], num_classes: int, h: int, w: int) -> torch.Tensor:
    """(B, K, h, w) float32 heatmaps: a Gaussian per object at its box centre in its class's
    channel, sigma a sixth of the box (at least half a cell), max where objects overlap."""
    out = torch.zeros(len(targets), num_classes, h, w)
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    for i, t in enumerate(targets):
        for c, (cx, cy, bw, bh) in zip(t["labels"].tolist(), t["boxes"].tolist()):
            sx, sy = max(bw / 6, 0.5 / w), max(bh / 6, 0.5 / h)
            g = torch.exp(-((xs[None] - cx) ** 2 / (2 * sx**2) + (ys[:, None] - cy) ** 2 / (2 * sy**2)))
            out[i, c] = torch.maximum(out[i, c], g)
    return out


def dense_loss(logits: torch.Tensor, targets: Sequence[dict]) -> torch.Tensor:
    """Sigmoid focal loss (torchvision) of (B, K, h, w) heatmap logits, per object."""
    heat = dense_targets(targets, logits.shape[1], logits.shape[2], logits.shape[3])
    n = max(1, sum(len(t["labels"]) for t in targets))
    return sigmoid_focal_loss(logits, heat, reduction="sum") / n


def make_pretrain_optimizer(model: nn.Module, head: DenseHead, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over what the dense task trains: backbone, input projection and the head."""
    params = [*model.backbone.parameters(), *model.input_proj.parameters(), *head.parameters()]
    return torch.optim.AdamW([{"params": params, "lr": cfg.pretrain_lr, "initial_lr": cfg.pretrain_lr, "name": "pretrain"}],
                             lr=cfg.pretrain_lr, weight_decay=cfg.weight_decay)


def pretrain_steps(model: nn.Module, head: DenseHead, optimizer: torch.optim.Optimizer, cfg: TrainConfig,
                   *, start: int = 0, stop: int | None = None, shapes: ShapesConfig = ShapesConfig()) -> Iterator[dict[str, float]]:
    """Dense backbone steps ``start .. stop-1`` (default ``cfg.pretrain_steps``), yielding
    ``{"step", "lr", "dense", "loss", "grad_norm"}`` after each; batch k is stream batch k."""
    stop = cfg.pretrain_steps if stop is None else stop
    model.train()
    for step in range(start, stop):
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"] * min(1.0, (step + 1) / 50)
        images, mask, targets = stream_batch(cfg.seed, step, cfg.batch_size, flip=cfg.flip, shapes=shapes)
        features, _ = model.project(images, mask)
        loss = dense_loss(head(features), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], float("inf"))  # measured only
        optimizer.step()
        yield {"step": float(step + 1), "lr": optimizer.param_groups[0]["lr"], "grad_norm": float(grad_norm),
               "dense": float(loss.detach()), "loss": float(loss.detach())}
