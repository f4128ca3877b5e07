"""Fine-tuning CLIP/SigLIP on image-text pairs with open_clip's own losses.

``ClipLoss`` (softmax contrastive, both directions) for the ``clip`` family and
``SigLipLoss`` (pairwise sigmoid with the learnt bias) for ``siglip``, both from
``open_clip.loss``: nothing is re-derived here. Pure compute: pairs come in as arrays and
token ids; files and checkpoints are ``pipeline/tools/train_embed.py``'s.

:func:`generated_pairs` makes a captioned data set with known answers (a coloured shape on a
noisy background, captioned "a red circle"), so a short run can show retrieval recall rising
above chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch
from torch import nn

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (40, 60, 220), "yellow": (235, 215, 30), "purple": (150, 40, 180), "white": (245, 245, 245)}
SHAPES = ("circle", "square", "triangle", "cross")


def generated_pairs(seed: int, n: int, size: int = 64) -> tuple[np.ndarray, list[str]]:
    """(images (n, size, size, 3) uint8 RGB, captions): one shape of one colour per image, at a
    random place and scale over a dark noisy background, captioned ``a {colour} {shape}``."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size, 3), np.uint8)
    captions = []
    names = list(COLOURS)
    for i in range(n):
        colour, shape = names[rng.integers(len(names))], SHAPES[rng.integers(len(SHAPES))]
        img = np.clip(rng.normal(40, 15, (size, size, 3)), 0, 255).astype(np.uint8)
        r = int(rng.uniform(0.18, 0.4) * size)
        cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
        c = COLOURS[colour]
        if shape == "circle":
            cv2.circle(img, (cx, cy), r, c, -1, cv2.LINE_AA)
        elif shape == "square":
            cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), c, -1)
        elif shape == "triangle":
            pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
            cv2.fillPoly(img, [pts], c, cv2.LINE_AA)
        else:
            t = max(2, r // 3)
            cv2.rectangle(img, (cx - r, cy - t), (cx + r, cy + t), c, -1)
            cv2.rectangle(img, (cx - t, cy - r), (cx + t, cy + r), c, -1)
        images[i] = img
        captions.append(f"a {colour} {shape}")
    return images, captions


@dataclass(frozen=True)
class EmbedTrainConfig:
    steps: int = 200
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup: int = 20
    seed: int = 0
    #: "constant" after the linear warmup, or "cosine": warmup, then cosine decay to 0 at the last step
    schedule: str = "constant"

    def __post_init__(self) -> None:
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule: expected constant or cosine, got {self.schedule!r}")


def learning_rate(cfg: EmbedTrainConfig, step: int) -> float:
    """The learning rate of 0-based ``step``: linear warmup over ``cfg.warmup`` steps, then
    constant or cosine-decayed to 0 at ``cfg.steps``."""
    if step < cfg.warmup or cfg.schedule == "constant":
        return cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1.0 + float(np.cos(np.pi * progress)))


def make_loss(family: str) -> nn.Module:
    from open_clip.loss import ClipLoss, SigLipLoss

    return SigLipLoss() if family == "siglip" else ClipLoss()


def _normalised(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    x = torch.from_numpy(images).float().div_(255.0).permute(0, 3, 1, 2)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def train_steps(model: nn.Module, family: str, images: np.ndarray, tokens: torch.Tensor, meta: dict, cfg: EmbedTrainConfig) -> Iterator[dict[str, float]]:
    """Steps over (images (N, S, S, 3) uint8 at the model's size, tokens (N, L) int64), each
    batch a seeded random draw; yields {"step", "loss", "lr"} per step."""
    loss_fn = make_loss(family)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    model.train()
    for step in range(cfg.steps):
        lr = learning_rate(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.choice(len(images), size=min(cfg.batch_size, len(images)), replace=False)
        img_f = model.encode_image(_normalised(images[idx], meta["mean"], meta["std"]), normalize=True)
        txt_f = model.encode_text(tokens[torch.from_numpy(idx)], normalize=True)
        if family == "siglip":
            loss = loss_fn(img_f, txt_f, model.logit_scale.exp(), model.logit_bias)
        else:
            loss = loss_fn(img_f, txt_f, model.logit_scale.exp())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, np.log(100))
        yield {"step": float(step + 1), "loss": float(loss.detach()), "lr": lr}
    model.eval()


@torch.inference_mode()
def text_to_image_recall(model: nn.Module, images: np.ndarray, captions: Sequence[str], tokens: torch.Tensor, meta: dict, k: int = 1) -> float:
    """Share of captions whose image is among the k nearest images. Several images share a
    caption here, so any image with the query's caption counts as a hit."""
    model.eval()
    img = model.encode_image(_normalised(images, meta["mean"], meta["std"]), normalize=True)
    txt = model.encode_text(tokens, normalize=True)
    sims = txt @ img.T  # (N, N)
    top = sims.topk(k, dim=1).indices.numpy()
    caps = np.array(captions)
    return float(np.mean([(caps[top[i]] == caps[i]).any() for i in range(len(caps))]))
