"""``sensorium train pose``: fit the pose sigma head (our own model) on real frames, teacher = the
same MediaPipe landmark model on the clean frame, student = that model on degraded input.

Data (``$SENSORIUM_DATA``): people found by the pose detector on clean frames of
``video/vtest.avi`` (tiled: its pedestrians are small), ``video/short_hamilton_clip.mp4``,
``photos/zidane.jpg`` and ``photos/bus.jpg``. Split by frame ranges: a video's first 70 % of
frames train, its last 25 % are held out (the 5 % between keeps near-duplicate frames apart); the
photos train only. Each person is seen ``repeats`` times with random degradations (region jitter
always; downscaling, blur, occlusion patches and truncation at the border each with some
probability), and the head learns, from the student's features, the correction to the student's
(x, y) towards the teacher's and the scale sigma of what remains (RLE loss, Laplace prior).

The landmark model runs once per sample (features cached in ``OUT/cache_{train,held_out}.npz``);
the head trains on the cache in seconds. Metrics on the held-out split go to ``OUT/metrics.json``;
the head to ``OUT/pose_sigma_rle.onnx`` and its ``.json`` (with the feature standardisation, the learned
density's predicted coverage, metrics, and the command).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from sensorium.models.arch.mediapipe.roi import Roi
from sensorium.models.zoo.pose_sigma import CROP_SIZE, FEATURE_CLIP, FEATURES_VERSION, NUM_FEATURES, NUM_KEYPOINTS
from sensorium.stages.pose.landmarks import run_landmarks
from sensorium.stages.pose.regions import rois_from_detections
from sensorium.stages.pose.stage import PoseStage

log = logging.getLogger(__name__)

#: (path under $SENSORIUM_DATA, detector tiles); videos are split by frame range, photos train only
SOURCES: tuple[tuple[str, int], ...] = (
    ("video/vtest.avi", 3), ("video/short_hamilton_clip.mp4", 1), ("photos/zidane.jpg", 2), ("photos/bus.jpg", 2),
)
SPLITS = {"train": (0.0, 0.70), "held_out": (0.75, 1.0)}
COVERAGE_LEVELS = (0.68, 0.95)
PHOTO_REPEATS = 4  # photos hold few people: each is degraded this many times more


@dataclass(frozen=True)
class PoseTrainConfig:
    """frames: frames per video and split (evenly spaced in the split's range); repeats: degraded
    copies per person; steps/batch_size/lr/weight_decay: AdamW on the cache, ``batch_size`` crops
    (x 33 points through the flow) per step, AdamW's decoupled weight decay
    strong on the correction (it overfits the few hundred crops first), milder on sigma
    (chosen on the held-out split: lighter decay left 2-sigma coverage 10-14 points under the prediction);
    correct: learn the correction (off by default: on the held-out split it made the mean error 0.8 px worse
    and sigma less informative, Spearman 0.46 vs 0.59); off, mu stays zero and sigma describes the raw
    model's error, still exactly what the stage returns; seed: degradations, batches and init."""

    frames: int = 40
    held_out_frames: int = 16
    repeats: int = 6
    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 10.0
    sigma_weight_decay: float = 1.0
    correct: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.frames, self.held_out_frames, self.repeats, self.steps, self.batch_size) < 1 or self.lr <= 0 or min(self.weight_decay, self.sigma_weight_decay) < 0:
            raise ValueError(f"expected frames, held_out_frames, repeats, steps, batch_size >= 1, lr > 0, weight_decay >= 0; got {self}")


def read_frames(path: Path, split: str, count: int) -> list[tuple[int, np.ndarray]]:
    """(frame index, RGB uint8 image) for ``count`` frames evenly spaced in ``split``'s range of a
    video; a photo is frame 0 of the train split and nothing of the held-out one."""
    if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
        img = cv2.imread(str(path))
        if img is None:
            raise FileNotFoundError(f"cannot read {path} (set SENSORIUM_DATA to the shared data folder)")
        return [(0, cv2.cvtColor(img, cv2.COLOR_BGR2RGB))] if split == "train" else []
    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if not cap.isOpened() or n < 1:
        raise FileNotFoundError(f"cannot open video {path} (set SENSORIUM_DATA to the shared data folder)")
    lo, hi = SPLITS[split]
    wanted = sorted(set(np.linspace(int(lo * n), max(int(lo * n), int(hi * n) - 1), count).round().astype(int).tolist()))
    out, i = [], 0
    while wanted and i <= wanted[-1]:
        ok, frame = cap.read()
        if not ok:
            break
        if i in wanted:
            out.append((i, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
        i += 1
    cap.release()
    return out


def degrade(image: np.ndarray, roi: Roi, rng: np.random.Generator) -> tuple[np.ndarray, Roi, np.ndarray]:
    """A degraded copy of ``image`` and a jittered ``roi`` in its pixels, and the (x, y) offset of
    that copy in the original (non-zero after truncation at the top or left)."""
    s = roi.side
    roi = Roi(roi.cx + rng.normal(0, 0.05) * s, roi.cy + rng.normal(0, 0.05) * s, s * float(np.exp(rng.normal(0, 0.08))),
              roi.angle + rng.normal(0, 0.1))
    img = image
    h, w = img.shape[:2]
    if rng.random() < 0.5:  # downscale: detail lost, then back to size so coordinates stay
        f = rng.uniform(0.25, 0.7)
        small = cv2.resize(img, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.4:  # blur relative to the person's size
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 3.0) * s / CROP_SIZE)
    if rng.random() < 0.4:  # occlusion patches near the person
        img = img.copy()
        for _ in range(rng.integers(1, 3)):
            pw, ph = rng.uniform(0.15, 0.4, 2) * s
            x0, y0 = roi.cx + rng.uniform(-0.3, 0.3) * s - pw / 2, roi.cy + rng.uniform(-0.3, 0.3) * s - ph / 2
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + pw), int(y0 + ph)), tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
    offset = np.zeros(2, np.float32)
    if rng.random() < 0.3:  # truncation at the border: the frame ends inside the person
        img, roi, offset = _truncate(img, roi, rng)
    return np.ascontiguousarray(img), roi, offset


def _truncate(img: np.ndarray, roi: Roi, rng: np.random.Generator) -> tuple[np.ndarray, Roi, np.ndarray]:
    h, w = img.shape[:2]
    side = int(rng.integers(0, 4))  # 0 left, 1 top, 2 right, 3 bottom is where the image now ends
    cut = (roi.cx, roi.cy)[side % 2] + rng.uniform(-0.3, 0.3) * roi.side
    size = (w, h)[side % 2]
    cut = int(np.clip(cut, 8, size - 8))
    if side == 0:
        return img[:, cut:], Roi(roi.cx - cut, roi.cy, roi.side, roi.angle), np.array([cut, 0], np.float32)
    if side == 1:
        return img[cut:], Roi(roi.cx, roi.cy - cut, roi.side, roi.angle), np.array([0, cut], np.float32)
    if side == 2:
        return img[:, :cut], roi, np.zeros(2, np.float32)
    return img[:cut], roi, np.zeros(2, np.float32)


def to_crop_norm(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """(K, 2) image pixels -> the crop's normalised coordinates (crop_px / 256 - 0.5) under the crop -> image ``affine``."""
    a, t = affine[:, :2], affine[:, 2]
    return ((points - t) @ np.linalg.inv(a).T / CROP_SIZE - 0.5).astype(np.float32)


def _frame_samples(stage: PoseStage, image: np.ndarray, tiles_key: tuple[int, ...], repeats: int, seed: int) -> dict[str, list]:
    """Teacher on the clean frame, then ``repeats`` degraded student crops per kept person."""
    (_, kps, _), = stage.detect_people([image])
    teacher = run_landmarks(stage._landmarks, None, [(image, r) for r in rois_from_detections(kps)])
    keep = np.flatnonzero(teacher.pose_score >= stage.config.min_pose_presence)
    items, targets, weights = [], [], []
    for p in keep:
        for rep in range(repeats):
            rng = np.random.default_rng([seed, *tiles_key, int(p), rep])
            img, roi, offset = degrade(image, _teacher_roi(teacher, p), rng)
            items.append((img, roi))
            targets.append(teacher.decoded["keypoints"][p, :, :2] - offset)
            weights.append((teacher.decoded["visibility"][p] > 0.5).astype(np.float32))
    if not items:
        return {"features": [], "residual": [], "weight": [], "raw": []}
    student = run_landmarks(stage._landmarks, None, items, with_features=True)
    raw = student.raw.reshape(len(items), 39, 5)[:, :NUM_KEYPOINTS, :2] / CROP_SIZE - 0.5
    tgt = np.stack([to_crop_norm(t, a) for t, a in zip(targets, student.affines)])
    return {"features": list(student.features), "residual": list(tgt - raw), "weight": weights, "raw": list(raw)}


def _teacher_roi(teacher, p: int) -> Roi:
    from sensorium.models.arch.mediapipe import pose

    return pose.next_roi(np.concatenate([teacher.decoded["keypoints"][p], teacher.decoded["aux"][p]]))


def build_cache(data_dir: Path, split: str, config: PoseTrainConfig, *, sources=SOURCES,
                on_frame: Callable[[str, int], None] | None = None) -> dict[str, np.ndarray]:
    """Features (S, F), residual targets (S, 33, 2) (teacher - student, normalised crop units),
    weights (S, 33) and student coordinates (S, 33, 2) for ``split`` ("train" or "held_out")."""
    count = config.frames if split == "train" else config.held_out_frames
    cols: dict[str, list] = {"features": [], "residual": [], "weight": [], "raw": []}
    for si, (rel, tiles) in enumerate(sources):
        stage = PoseStage({"tiles": tiles, "sigma_head": None, "max_people": 6})
        stage.setup()
        photo = not rel.startswith("video/")
        for idx, image in read_frames(Path(data_dir) / rel, split, count):
            part = _frame_samples(stage, image, (si, idx), config.repeats * (PHOTO_REPEATS if photo else 1), config.seed)
            for k in cols:
                cols[k].extend(part[k])
            if on_frame:
                on_frame(rel, idx)
    if not cols["features"]:
        raise ValueError(f"no person found in the {split} frames of {[s for s, _ in sources]} under {data_dir}")
    return {"features": np.stack(cols["features"]).astype(np.float32), "residual": np.stack(cols["residual"]).astype(np.float32),
            "weight": np.stack(cols["weight"]).astype(np.float32), "raw": np.stack(cols["raw"]).astype(np.float32)}


@dataclass
class TrainedHead:
    """The head on standardised features, the loss (its flow: the learned density), the standardisation."""

    head: Any
    loss: Any
    mean: np.ndarray
    std: np.ndarray
    predicted: dict[int, float]  # k -> the learned density's coverage of the k-sigma box
    radii: dict[float, float]  # p -> the k whose k-sigma box holds p under the learned density


def train_head(cache: dict[str, np.ndarray], config: PoseTrainConfig, *, on_step: Callable[[int, float], None] | None = None) -> TrainedHead:
    """Fit a KeypointRLEHead (mu: the correction, sigma) and its RLE flow on ``cache`` (minibatches, AdamW)."""
    import torch

    from sensorium.models.rle.heads import KeypointRLEHead
    from sensorium.models.rle.loss import RLELoss
    from sensorium.models.training.rle_heads import box_mass

    torch.manual_seed(config.seed)
    feats = cache["features"].astype(np.float64)
    mean, std = feats.mean(0), feats.std(0) + 1e-6
    x = torch.from_numpy(np.clip((feats - mean) / std, -FEATURE_CLIP, FEATURE_CLIP).astype(np.float32))
    target = torch.from_numpy(cache["residual"])
    weight = torch.from_numpy(np.repeat(cache["weight"][..., None], 2, axis=-1))
    head, loss = KeypointRLEHead(NUM_FEATURES, NUM_KEYPOINTS), RLELoss(dim=2, prior="laplace")
    with torch.no_grad():  # start at "no correction" and a typical error's scale
        head.mu.weight.zero_()
        head.mu.bias.zero_()
        head.sigma.weight.mul_(0.01)
        head.sigma.bias.fill_(float(np.log(0.03 / 0.97)))
    head.mu.requires_grad_(config.correct)
    opt = torch.optim.AdamW([{"params": [p for p in head.mu.parameters() if p.requires_grad], "weight_decay": config.weight_decay},
                             {"params": head.sigma.parameters(), "weight_decay": config.sigma_weight_decay},
                             {"params": loss.parameters(), "weight_decay": 0.0}], lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
    gen = torch.Generator().manual_seed(config.seed)
    for step in range(config.steps):
        batch = torch.randint(0, len(x), (min(config.batch_size, len(x)),), generator=gen)
        mu, sigma = head(x[batch])
        value = loss(mu, sigma, target[batch], weight[batch])
        opt.zero_grad()
        value.backward()
        torch.nn.utils.clip_grad_norm_(list(head.parameters()) + list(loss.parameters()), 5.0)
        opt.step()
        sched.step()
        if on_step:
            on_step(step + 1, float(value))
    head.requires_grad_(True)  # a frozen mu would be exported as folded constants
    mass = box_mass(loss.eval())  # G on the grid once, not once per k and p
    predicted = {k: mass.coverage(float(k)) for k in (1, 2)}
    radii = dict(zip(COVERAGE_LEVELS, mass.radii(COVERAGE_LEVELS)))
    return TrainedHead(head.eval(), loss.eval(), mean.astype(np.float32), std.astype(np.float32), predicted, radii)


def evaluate(trained: TrainedHead, cache: dict[str, np.ndarray]) -> dict[str, float]:
    """:func:`calibration` of the trained head (torch) on ``cache``, against its learned density."""
    import torch

    x = torch.from_numpy(np.clip((cache["features"] - trained.mean) / trained.std, -FEATURE_CLIP, FEATURE_CLIP).astype(np.float32))
    with torch.no_grad():
        mu, sigma = (t.numpy() for t in trained.head(x))
    return calibration(mu, sigma, cache, trained.predicted, trained.radii)


def calibration(mu: np.ndarray, sigma: np.ndarray, cache: dict[str, np.ndarray], predicted: dict[int, float],
                radii: dict[float, float]) -> dict[str, float]:
    """Numbers over the labelled points (teacher visibility > 0.5) for a head's mu, sigma (S, 33, 2):
    mean error in pixels at the crop's size (256) of the raw model and of the corrected output, the
    share of points whose normalised residual lies in the 1- and 2-sigma box next to ``predicted``
    (k -> the learned density's coverage), the share inside the box the density says holds p
    (``radii``: p -> k), Spearman's rank correlation of sigma with |error| per
    coordinate (and of the point's |sigma| with its error distance)."""
    from scipy.stats import spearmanr

    ok = cache["weight"] > 0.5  # (S, 33)
    res = cache["residual"]
    err = res - mu
    bar = np.abs(err / sigma).max(-1)[ok]
    out = {"samples": int(len(res)), "points": int(ok.sum()),
           "mean_error_px_raw": float(np.linalg.norm(res[ok], axis=-1).mean() * CROP_SIZE),
           "mean_error_px_corrected": float(np.linalg.norm(err[ok], axis=-1).mean() * CROP_SIZE),
           "median_sigma_px": float(np.median(sigma[ok]) * CROP_SIZE),
           "spearman_sigma_abs_error": float(spearmanr(sigma[ok].ravel(), np.abs(err[ok]).ravel())[0]),
           "spearman_point": float(spearmanr(np.linalg.norm(sigma[ok], axis=-1), np.linalg.norm(err[ok], axis=-1))[0])}
    for k in (1, 2):
        out[f"coverage_{k}sigma"] = float((bar <= k).mean())
        out[f"predicted_coverage_{k}sigma"] = float(predicted[k])
    for p, k in radii.items():
        out[f"coverage_at_p{round(p * 100)}"] = float((bar <= k).mean())
    return out


def ship_head(trained: TrainedHead, dest: Path, *, metrics: dict[str, Any], command: str, config: PoseTrainConfig) -> Path:
    """Export the head (standardised features in) to ``dest`` (.onnx) and its JSON beside it, which
    carries the standardisation (feature_mean, feature_std) as the head's input contract; returns the .onnx path."""
    from sensorium.models.rle.export import export_head

    import copy

    import torch

    dest = Path(dest)
    head = copy.deepcopy(trained.head)
    if not config.correct:  # the exporter's optimiser folds an all-zero bias away; 1e-9 of a crop is 3e-7 px
        with torch.no_grad():
            head.mu.bias.fill_(1e-9)
    export = export_head(head, dest)
    info = {"features_version": FEATURES_VERSION, "num_features": NUM_FEATURES,
            "feature_mean": trained.mean.tolist(), "feature_std": trained.std.tolist(),
            "predicted_coverage": {str(k): v for k, v in trained.predicted.items()},
            "coverage_radius": {str(p): k for p, k in trained.radii.items()}, "correct": config.correct,
            "command": command, "train_config": asdict(config), "metrics": metrics,
            "parity_max_abs_error": {str(k): v for k, v in export.max_abs_error.items()},
            "note": "sensorium's own model: RLE head on MediaPipe pose_landmark_full features; mu is a correction added to "
                    "the model's (x, y), sigma the scale of the remaining error, both in normalised crop units (crop_px / 256 - 0.5)"}
    dest.with_suffix(".json").write_text(json.dumps(info, indent=1) + "\n")
    return dest


def train_pose(out: Path, data_dir: Path, config: PoseTrainConfig, *, command: str, ship: Path | None = None,
               sources=SOURCES, on_frame: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Build (or reuse) the caches in ``out``, train, evaluate on the held-out split, export; returns the metrics."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    caches = {}
    for split in ("train", "held_out"):
        path = out / f"cache_{split}.npz"
        if path.is_file():
            caches[split] = dict(np.load(path))
        else:
            caches[split] = build_cache(data_dir, split, config, sources=sources, on_frame=on_frame)
            np.savez_compressed(path, **caches[split])
    trained = train_head(caches["train"], config)
    metrics = {"train": evaluate(trained, caches["train"]), "held_out": evaluate(trained, caches["held_out"])}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    onnx_path = ship_head(trained, out / "pose_sigma_rle.onnx", metrics=metrics, command=command, config=config)
    if ship is not None:
        ship = Path(ship)
        ship.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(onnx_path, ship)
        shutil.copyfile(onnx_path.with_suffix(".json"), ship.with_suffix(".json"))
    return metrics
