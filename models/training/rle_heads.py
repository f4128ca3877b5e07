"""Three heads on one small CNN, trained alike: RLE, plain L1 regression, and a heatmap head.

The comparison of issue #13 asks what RLE buys over the two usual ways of regressing points, on
the same backbone, data, steps, optimiser and seed, so only the head differs:

- ``rle``: ``models/rle`` heads (mu, sigma per coordinate) trained with ``RLELoss`` (its flow is
  training-only); sigma is the per-coordinate scale the calibration checks.
- ``l1``: a linear map to mu trained with L1, the regression baseline the paper improves on; it has
  no uncertainty at all.
- ``heatmap``: for keypoints an integral-regression heatmap (soft-argmax over a 16x16 map from the
  stride-4 upsampled feature, Sun et al. 2018) trained with L1 on the expected position; for gaze
  L2CS-Net's binned (yaw, pitch) classification with cross-entropy plus a regression loss on the
  softmax expectation. Its spread (the softmax's standard deviation) is the sigma-like signal
  such heads have.

Tasks: ``figures`` (keypoints (K, 2) in the crop's normalised coordinates, [-0.5, 0.5] across, as
the RLE heads expect; pixels = (mu + 0.5) * size) and ``eyes`` (gaze (yaw, pitch) in radians). The
models take what ``iris.preprocess`` produces: (B, 64, 64, 3) float32 RGB in [0, 1], NHWC, so the
eye model runs on MediaPipe's eye crops as they come. Pure compute: data arrive as arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sensorium.models.rle.heads import KeypointRLEHead, RLEHead
from sensorium.models.rle.loss import GRID_HALF_WIDTH, GRID_STEPS, RLELoss

Task = Literal["figures", "eyes"]
Kind = Literal["rle", "l1", "heatmap"]
TASKS: tuple[str, ...] = ("figures", "eyes")
KINDS: tuple[str, ...] = ("rle", "l1", "heatmap")


@dataclass(frozen=True)
class HeadsConfig:
    """Architecture and training budget shared by the three heads of one task.

    widths: the backbone's stage channels; feature_dim: the pooled feature the regression heads
    read; num_keypoints: K for ``figures``; gaze_limit: |yaw|, |pitch| range the gaze bins cover
    (radians); gaze_bins: bins per angle; heatmap_size: side of the keypoint heatmap. steps,
    batch_size, lr, weight_decay, seed: the optimiser's budget (AdamW, cosine decay).
    """

    task: str = "figures"
    image_size: int = 64
    widths: tuple[int, int, int, int] = (16, 32, 64, 96)
    feature_dim: int = 256
    num_keypoints: int = 14
    gaze_limit: float = 0.75
    gaze_bins: int = 30
    heatmap_size: int = 16
    steps: int = 1200
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task: expected one of {TASKS}, got {self.task!r}")
        if self.image_size != 64:
            raise ValueError(f"image_size: the backbone's strides are laid out for 64, got {self.image_size}")


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Backbone(nn.Module):
    """(B, 64, 64, 3) float32 RGB in [0, 1] (NHWC) -> ((B, C, 8, 8) stride-8 map, (B, c2, 16, 16) stride-4 map)."""

    def __init__(self, widths: tuple[int, int, int, int]) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        self.stem = nn.Sequential(_conv(3, w0, 2), _conv(w0, w0, 1))  # (B, w0, 32, 32)
        self.s4 = nn.Sequential(_conv(w0, w1, 2), _conv(w1, w1, 1))  # (B, w1, 16, 16)
        self.s8 = nn.Sequential(_conv(w1, w2, 2), _conv(w2, w3, 1))  # (B, w3, 8, 8)
        self.channels = (w1, w3)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images.permute(0, 3, 1, 2) - 0.5  # NHWC [0, 1] -> NCHW centred
        s4 = self.s4(self.stem(x))
        return self.s8(s4), s4


class Neck(nn.Module):
    """(B, C, 8, 8) -> (B, feature_dim): a strided conv to 4x4, flattened (keeps where things are,
    which global pooling would average away) and a linear layer."""

    def __init__(self, channels: int, feature_dim: int) -> None:
        super().__init__()
        self.conv = _conv(channels, 128, 2)  # (B, 128, 4, 4)
        self.fc = nn.Sequential(nn.Linear(128 * 16, feature_dim), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


class SoftArgmaxHead(nn.Module):
    """Integral regression: (B, c, 16, 16) + (B, C, 8, 8) -> coordinates (B, K, 2) normalised to
    [-0.5, 0.5] (soft-argmax over a 16x16 map) and spread (B, K, 2): the softmax's std per axis."""

    def __init__(self, fine: int, coarse: int, num_keypoints: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.conv = nn.Sequential(_conv(fine + coarse, 48, 1), nn.Conv2d(48, num_keypoints, 1))
        centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size - 0.5
        self.register_buffer("grid", centres)

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        up = F.interpolate(coarse, size=fine.shape[-2:], mode="nearest")
        logits = self.conv(torch.cat([fine, up], 1))  # (B, K, S, S)
        b, k = logits.shape[:2]
        p = torch.softmax(logits.reshape(b, k, -1), -1).reshape(b, k, self.size, self.size)
        px, py = p.sum(2), p.sum(3)  # marginals over x (B, K, S) and y
        ex, ey = (px * self.grid).sum(-1), (py * self.grid).sum(-1)
        vx = (px * self.grid ** 2).sum(-1) - ex ** 2
        vy = (py * self.grid ** 2).sum(-1) - ey ** 2
        spread = torch.stack([vx, vy], -1).clamp_min(1e-8).sqrt()
        return torch.stack([ex, ey], -1), spread


class BinnedGazeHead(nn.Module):
    """L2CS-style: (B, F) -> (logits (B, 2, bins), expectation (B, 2) radians, spread (B, 2) radians)."""

    def __init__(self, feature_dim: int, bins: int, limit: float) -> None:
        super().__init__()
        self.bins = bins
        self.fc = nn.Linear(feature_dim, 2 * bins)
        self.register_buffer("centres", torch.linspace(-limit, limit, bins))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits = self.fc(features).reshape(-1, 2, self.bins)
        p = torch.softmax(logits, -1)
        mean = (p * self.centres).sum(-1)
        var = (p * self.centres ** 2).sum(-1) - mean ** 2
        return logits, mean, var.clamp_min(1e-10).sqrt()


class HeadModel(nn.Module):
    """Backbone + one head. ``forward(images)`` -> (mu, signal): mu (B, K, 2) or (B, 2); signal:
    sigma (RLE), spread (heatmap), or None (L1). ``raw`` holds what the loss needs beyond them."""

    def __init__(self, config: HeadsConfig, kind: str) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
        self.config, self.kind = config, kind
        self.backbone = Backbone(config.widths)
        fine, coarse = self.backbone.channels
        kp = config.task == "figures"
        shape = (config.num_keypoints, 2) if kp else (2,)
        if kind == "heatmap" and kp:
            self.head: nn.Module = SoftArgmaxHead(fine, coarse, config.num_keypoints, config.heatmap_size)
            return
        self.neck = Neck(coarse, config.feature_dim)
        if kind == "rle":
            self.head = KeypointRLEHead(config.feature_dim, config.num_keypoints) if kp else RLEHead(config.feature_dim, shape)
        elif kind == "l1":
            self.head = nn.Linear(config.feature_dim, math.prod(shape))
        else:
            self.head = BinnedGazeHead(config.feature_dim, config.gaze_bins, config.gaze_limit)
        self.shape = shape

    def outputs(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        coarse, fine = self.backbone(images)
        if isinstance(self.head, SoftArgmaxHead):
            mu, spread = self.head(coarse, fine)
            return {"mu": mu, "signal": spread}
        feats = self.neck(coarse)
        if self.kind == "rle":
            mu, sigma = self.head(feats)
            return {"mu": mu, "signal": sigma}
        if self.kind == "l1":
            return {"mu": self.head(feats).reshape(-1, *self.shape)}
        logits, mean, spread = self.head(feats)
        return {"mu": mean, "signal": spread, "logits": logits}

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, 64, 64, 3) float32 [0, 1] -> (mu,) for L1, (mu, sigma or spread) otherwise."""
        out = self.outputs(images)
        return (out["mu"], out["signal"]) if "signal" in out else (out["mu"],)


class HeadLoss(nn.Module):
    """The training loss of one kind; for RLE it owns the flow (so ``parameters()`` includes it).
    Reduction: sum over points and coordinates / batch size, for every kind."""

    def __init__(self, config: HeadsConfig, kind: str) -> None:
        super().__init__()
        self.config, self.kind = config, kind
        self.rle = RLELoss(dim=2) if kind == "rle" else None

    def forward(self, out: dict[str, torch.Tensor], target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """target (B, K, 2) or (B, 2); weight of target's shape (0 = not labelled)."""
        b = target.shape[0]
        if self.rle is not None:
            return self.rle(out["mu"], out["signal"], target, weight)
        l1 = ((out["mu"] - target).abs() * weight).sum() / b
        if "logits" not in out:
            return l1
        c = self.config  # L2CS: cross-entropy on the target's bin plus a regression term on the expectation
        idx = torch.bucketize(target.clamp(-c.gaze_limit, c.gaze_limit), _bin_edges(c).to(target.device))
        ce = F.cross_entropy(out["logits"].reshape(-1, c.gaze_bins), idx.reshape(-1), reduction="sum") / b
        return ce + 4.0 * l1


def _bin_edges(c: HeadsConfig) -> torch.Tensor:
    centres = torch.linspace(-c.gaze_limit, c.gaze_limit, c.gaze_bins)
    return (centres[1:] + centres[:-1]) / 2


@dataclass(frozen=True)
class BoxMass:
    """A 2-D flow density G tabulated once on the loss's integration grid: each cell's box radius
    max|bar_c| (M,), ascending, and the mass of every cell up to it (M,). Why: one evaluation of G
    (a quarter-million grid points) then answers every p-region radius and every k-sigma box's
    coverage, where ``RLELoss.coverage_radius`` and ``predicted_coverage`` evaluate G once per call."""

    radius: torch.Tensor
    cumulative: torch.Tensor

    def radii(self, ps: Sequence[float]) -> list[float]:
        """The smallest box radius holding mass >= p, for each p (the value the loss's bisection converges to)."""
        _check_probabilities(ps)
        last = len(self.radius) - 1
        return [float(self.radius[min(int(torch.searchsorted(self.cumulative, torch.tensor(p))), last)]) for p in ps]

    def coverage(self, k: float) -> float:
        """Mass of the box |bar_c| <= k for every c (``RLELoss.predicted_coverage(k)``)."""
        inside = int(torch.searchsorted(self.radius, torch.tensor(float(k)), right=True))
        return float(self.cumulative[inside - 1]) if inside else 0.0


def _check_probabilities(ps: Sequence[float]) -> None:
    for p in ps:
        if not 0.0 < p < 1.0:
            raise ValueError(f"p: expected a probability in (0, 1), got {p!r}")


@torch.no_grad()
def box_mass(loss: RLELoss) -> BoxMass:
    """G of a 2-D ``loss`` evaluated once on its integration grid, as a :class:`BoxMass`."""
    if loss.dim != 2:
        raise ValueError(f"expected a 2-D RLELoss, got dim {loss.dim}")
    cells = GRID_STEPS[2]
    step = 2 * GRID_HALF_WIDTH / cells
    axis = (-GRID_HALF_WIDTH + step * (torch.arange(cells, dtype=torch.float64) + 0.5)).float()
    points = torch.cartesian_prod(axis, axis)
    mass = torch.cat([torch.exp(loss.log_density(chunk, "flow")) for chunk in points.split(1 << 15)]) * step ** 2
    radius, order = points.abs().amax(-1).sort()
    return BoxMass(radius, mass[order].cumsum(0))


def coverage_radii(loss: RLELoss, ps: Sequence[float]) -> list[float]:
    """``[loss.coverage_radius(p) for p in ps]`` (2-D flow density G) from one evaluation of G on
    the loss's integration grid instead of one per p (see :class:`BoxMass`)."""
    _check_probabilities(ps)  # before the grid's evaluation, not after it
    return box_mass(loss).radii(ps)


def fit_density(bar: np.ndarray, steps: int = 400, lr: float = 1e-2, seed: int = 0) -> RLELoss:
    """A fresh ``RLELoss``'s flow G fitted by maximum likelihood to normalised residuals bar (N, 2)
    of a frozen head on data it was not trained on. Why: the flow trained with the head fits the
    *training* residuals, which a small model on a few thousand samples makes smaller than it makes
    on new data, so its regions are too tight on held-out data; refitting G (the part that never
    ships) on a calibration split keeps sigma and mu as they are and makes the regions honest."""
    if bar.ndim != 2 or bar.shape[1] != 2 or len(bar) < 10:
        raise ValueError(f"expected normalised residuals (N >= 10, 2), got {bar.shape}")
    torch.manual_seed(seed)
    loss = RLELoss(dim=2)
    opt = torch.optim.Adam(loss.flow.parameters(), lr=lr)
    x = torch.from_numpy(np.asarray(bar, np.float32))
    for _ in range(steps):
        nll = -loss.flow.log_prob(x).mean()
        opt.zero_grad(set_to_none=True)
        nll.backward()
        opt.step()
    return loss.eval()


def parameter_count(model: nn.Module) -> int:
    """Parameters that ship (the RLE flow is in the loss, not the model)."""
    return sum(p.numel() for p in model.parameters())


def _lr_at(config: HeadsConfig, step: int) -> float:
    warm = max(1, config.steps // 20)
    if step < warm:
        return config.lr * (step + 1) / warm
    return 0.5 * config.lr * (1 + math.cos(math.pi * (step - warm) / max(1, config.steps - warm)))


def train_head(config: HeadsConfig, kind: str, images: np.ndarray, targets: np.ndarray, weights: np.ndarray,
               on_step: Callable[[int, float], None] | None = None) -> tuple[HeadModel, HeadLoss]:
    """Train one head on a fixed training set: images (N, 64, 64, 3) uint8 RGB, targets (N, K, 2)
    normalised keypoints or (N, 2) radians, weights of targets' shape. Batches are drawn by a
    generator seeded with ``config.seed``, so the three kinds see the same batches in the same
    order from the same initial backbone. Returns the model (eval mode) and its loss (RLE: with the
    trained flow, needed for ``coverage_radius``)."""
    if len(images) != len(targets) or targets.shape != weights.shape:
        raise ValueError(f"expected images, targets, weights of one length and targets/weights of one shape, "
                         f"got {images.shape}, {targets.shape}, {weights.shape}")
    torch.manual_seed(config.seed)
    model, loss_fn = HeadModel(config, kind), HeadLoss(config, kind)
    params = list(model.parameters()) + list(loss_fn.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    x_all = torch.from_numpy(images)
    t_all, w_all = torch.from_numpy(targets).float(), torch.from_numpy(weights).float()
    model.train()
    for step in range(config.steps):
        idx = torch.randint(len(images), (config.batch_size,), generator=gen)
        for group in opt.param_groups:
            group["lr"] = _lr_at(config, step)
        loss = loss_fn(model.outputs(x_all[idx].float() / 255.0), t_all[idx], w_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        if on_step is not None:
            on_step(step, float(loss))
    return model.eval(), loss_fn.eval()


@torch.inference_mode()
def predict(model: HeadModel, images: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
    """(mu, signal or None) as float32 numpy for images (N, 64, 64, 3) uint8 RGB."""
    mus, signals = [], []
    for i in range(0, len(images), batch):
        out = model(torch.from_numpy(images[i:i + batch]).float() / 255.0)
        mus.append(out[0].numpy())
        if len(out) > 1:
            signals.append(out[1].numpy())
    return np.concatenate(mus), (np.concatenate(signals) if signals else None)
