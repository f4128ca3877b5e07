"""Training the shapes DETR with checkpoints: the file side of :mod:`sensorium.models.training.detr_train`.

``OUT/last.pt`` holds everything a resumed run needs (model, the training-only dense head,
optimiser of the current phase, step, architecture, training and data config, torch RNG
state), written atomically every ``checkpoint_every``
steps and at the end; ``OUT/metrics.jsonl`` gets one line per step. Because a training
batch is a pure function of (seed, step), ``resume`` continues exactly where the checkpoint
left off: the next step's loss equals the uninterrupted run's. Steps count both phases
(``pretrain_steps`` dense backbone steps, then DETR steps), so a run stopped in either phase
resumes in it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import torch

from sensorium.models.training.detr_loss import SetCriterion
from sensorium.models.zoo.detr_shapes import SHAPES, DetrConfig, build_detr_from_config, weights_config_path
from sensorium.models.training.detr_train import DenseHead, TrainConfig, make_optimizer, make_pretrain_optimizer, pretrain_steps, train_steps
from sensorium.models.data.shapes import CLASSES, ShapesConfig

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"
METRICS = "metrics.jsonl"


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a truncated checkpoint


def _configs(blob: dict) -> tuple[DetrConfig, TrainConfig, ShapesConfig]:
    train = dict(blob["train"])
    train["decay_at"] = tuple(train["decay_at"])
    return DetrConfig.from_json(blob["config"]), TrainConfig(**train), ShapesConfig(**blob["shapes"])


def _load_init(init_from: str | Path, model: torch.nn.Module, head: torch.nn.Module, model_config: DetrConfig) -> None:
    """Start from another checkpoint's weights (``--init-from``); its architecture must match."""
    blob = torch.load(init_from, map_location="cpu", weights_only=False)
    if DetrConfig.from_json(blob["config"]) != model_config:
        raise ValueError(f"--init-from {init_from}: its architecture {blob['config']} differs from {model_config.to_json()}")
    model.load_state_dict(blob["model"])
    if "dense_head" in blob:
        head.load_state_dict(blob["dense_head"])
    log.info("initialised from %s (step %d)", init_from, blob["step"])


def _resume(ckpt_path: Path, model: torch.nn.Module, head: torch.nn.Module, configs: tuple,
            optimizer_for: Callable[[str], torch.optim.Optimizer]) -> tuple[int, str, torch.optim.Optimizer]:
    """Load ``ckpt_path`` into model, head, a new optimiser and the RNG: (step, phase, optimiser).
    Raises when it was trained with other configs, so a resumed run is never another experiment."""
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path}")
    blob = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    saved = _configs(blob)
    if saved != configs:
        raise ValueError(f"{ckpt_path} was trained with {saved}, not the requested {configs}")
    model.load_state_dict(blob["model"])
    head.load_state_dict(blob["dense_head"])
    phase = blob.get("phase", "detr")
    optimizer = optimizer_for(phase)
    optimizer.load_state_dict(blob["optimizer"])
    torch.set_rng_state(blob["rng"])
    log.info("resuming %s at step %d", ckpt_path, int(blob["step"]))
    return int(blob["step"]), phase, optimizer


def train_detect(
    out: str | Path,
    *,
    model_config: DetrConfig = DetrConfig(),
    train_config: TrainConfig = TrainConfig(),
    shapes: ShapesConfig = SHAPES,
    resume: bool = False,
    checkpoint_every: int = 100,
    stop_after: int | None = None,
    snapshot_every: int | None = None,
    init_from: str | Path | None = None,
    on_step: Callable[[dict[str, float]], None] | None = None,
) -> Path:
    """Train into ``out`` and return the checkpoint path.

    ``resume`` continues from ``out/last.pt`` (its configs win; passing different ones raises,
    so a resumed run is never silently another experiment). ``stop_after`` stops after that
    many steps of this call (tests, and splitting a run across sessions). ``snapshot_every``
    also keeps ``out/step{N}.pt`` copies (to compare runs at equal steps). ``init_from`` starts a
    new run from another checkpoint's model weights (fresh optimiser and schedule: fine-tuning
    or extending a run with another schedule; recorded in the checkpoint). ``on_step`` receives
    each step's metrics.
    """
    if model_config.image_size != shapes.size:
        raise ValueError(f"model image_size {model_config.image_size} != data image size {shapes.size}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, pre, total = out / CHECKPOINT, train_config.pretrain_steps, train_config.total_steps
    torch.manual_seed(train_config.seed)
    model = build_detr_from_config(model_config)
    head = DenseHead(model_config.dim, model_config.num_classes)

    def optimizer_for(phase: str) -> torch.optim.Optimizer:
        return make_pretrain_optimizer(model, head, train_config) if phase == "pretrain" else make_optimizer(model, train_config, head)

    start = 0
    if init_from is not None and not resume:
        _load_init(init_from, model, head, model_config)
    phase = "pretrain" if pre > 0 else "detr"
    optimizer = optimizer_for(phase)
    if resume:
        start, phase, optimizer = _resume(ckpt_path, model, head, (model_config, train_config, shapes), optimizer_for)
    elif ckpt_path.exists():
        raise FileExistsError(f"{ckpt_path} exists: pass --resume to continue it, or choose another --out")
    stop = total if stop_after is None else min(total, start + stop_after)
    criterion = SetCriterion(model_config.num_classes)

    def save(step: int) -> None:
        _atomic_save({
            "model": model.state_dict(), "dense_head": head.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
            "phase": phase,  # whose optimiser state this is
            "config": model_config.to_json(), "train": dataclasses.asdict(train_config),
            "shapes": dataclasses.asdict(shapes), "labels": list(CLASSES), "rng": torch.get_rng_state(),
            "init_from": None if init_from is None else str(init_from),
        }, ckpt_path)

    def phases():
        nonlocal optimizer, phase
        if start < pre:
            yield from pretrain_steps(model, head, optimizer, train_config, start=start, stop=min(stop, pre), shapes=shapes)
        if stop > pre:
            if phase == "pretrain":
                phase, optimizer = "detr", optimizer_for("detr")  # fresh optimiser and schedule for DETR
            for m in train_steps(model, criterion, optimizer, train_config, start=max(start, pre) - pre, stop=stop - pre,
                                 shapes=shapes, head=head):
                yield {**m, "step": m["step"] + pre}

    with open(out / METRICS, "a") as metrics:
        for m in phases():
            metrics.write(json.dumps(m) + "\n")
            metrics.flush()
            step = int(m["step"])
            snapshot = bool(snapshot_every) and step % snapshot_every == 0
            if snapshot or step % checkpoint_every == 0 or step == stop:
                save(step)
            if snapshot:
                shutil.copyfile(ckpt_path, out / f"step{step}.pt")
            if on_step is not None:
                on_step(m)
    if start >= stop:
        log.info("%s is already at step %d of %d: nothing to train", ckpt_path, start, total)
    return ckpt_path


def ship_weights(checkpoint: str | Path, dest: str | Path, *, command: str | None = None) -> Path:
    """Write the checkpoint's model as an fp16 state dict to ``dest`` (a few MB) and its
    contract beside it (``dest`` with ``.json``): architecture, data and training config, step,
    labels, mean/std and the command that trained it. Integer buffers stay as they are; loaders
    upcast to float32 (:func:`~sensorium.models.zoo.detr_shapes.load_trained_detr`)."""
    from sensorium.models.zoo.detr_shapes import MEAN, STD
    from sensorium.models.hub.weights import sha256_file

    blob = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state = {k: v.half() if v.is_floating_point() else v for k, v in blob["model"].items()}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _atomic_save(state, dest)
    meta = {
        "config": blob["config"], "shapes": blob["shapes"], "train": blob["train"], "step": blob["step"],
        "init_from": blob.get("init_from"),
        "labels": blob["labels"], "mean": list(MEAN), "std": list(STD), "dtype": "float16 (upcast to float32 on load)",
        "command": command or " ".join(shlex.quote(a) for a in sys.argv), "sha256": sha256_file(dest),
    }
    weights_config_path(dest).write_text(json.dumps(meta, indent=2) + "\n")
    return dest
