"""``sensorium train detect|embed`` and ``sensorium eval detect``, registered on the main app.

Heavy imports (torch, pycocotools, onnxruntime) happen inside the commands, so
``sensorium --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import typer
from sensorium.pipeline.cli.common import console, setup_logging

train_app = typer.Typer(help="Train models on generated data.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure models on held-out generated data.", no_args_is_help=True)


@train_app.command("detect")
def train_detect_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: last.pt (checkpoint) and metrics.jsonl."),
    steps: int = typer.Option(3000, help="DETR optimiser steps (the LR schedule is laid out over these)."),
    pretrain_steps: int = typer.Option(1000, help="Dense backbone pretraining steps before DETR (0: none)."),
    pretrain_lr: float = typer.Option(1e-3, help="Learning rate of the backbone pretraining."),
    dense_weight: float = typer.Option(1.0, help="Weight of the dense auxiliary loss during DETR steps (0: off)."),
    seed: int = typer.Option(0, help="Training split seed and init seed."),
    resume: bool = typer.Option(False, "--resume", help="Continue OUT/last.pt exactly where it stopped."),
    no_spp: bool = typer.Option(False, "--no-spp", help="Train without the SPP block (the ablation)."),
    batch_size: int = typer.Option(8, help="Images per step."),
    lr: float = typer.Option(1e-4, help="Peak DETR learning rate (transformer and heads; backbone the same)."),
    checkpoint_every: int = typer.Option(100, help="Write OUT/last.pt every this many steps."),
    snapshot_every: Optional[int] = typer.Option(None, help="Also keep OUT/step{N}.pt every this many steps."),
    init_from: Optional[Path] = typer.Option(None, help="Start from this checkpoint's model weights (fresh optimiser and schedule)."),
    decay_at: str = typer.Option("0.75", help="Comma-separated fractions of --steps where the LR drops 10x ('' for none)."),
    threads: int = typer.Option(2, help="torch CPU threads."),
    ship: Optional[Path] = typer.Option(None, help="At the end, also write an fp16 state dict + JSON here (e.g. models/weights/detr_spp_shapes.pt)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train the shapes DETR (resnet-lite stride 16, dim 128, SPP) on generated images."""
    setup_logging(verbose)
    import dataclasses
    import time

    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from sensorium.models.zoo.detr_shapes import SHIPPED_CONFIG
    from sensorium.models.training.detr_train import TrainConfig

    from sensorium.pipeline.tools.train_detect import ship_weights, train_detect

    torch.set_num_threads(threads)
    model_config = dataclasses.replace(SHIPPED_CONFIG, spp=not no_spp)
    try:
        decays = tuple(float(x) for x in decay_at.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated fractions, got {decay_at!r}", param_hint="--decay-at") from None
    train_config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, warmup=min(100, max(1, steps // 10)), decay_at=decays,
                               pretrain_steps=pretrain_steps, pretrain_lr=pretrain_lr, dense_weight=dense_weight)
    start = time.time()
    columns = (TextColumn("[bold]train detect"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.3f}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("train", total=train_config.total_steps, loss=float("nan"))

        def on_step(m: dict[str, float]) -> None:
            progress.update(task, completed=int(m["step"]), loss=m["loss"])
            if int(m["step"]) % 20 == 0:
                parts = " ".join(f"{k} {m[k]:.3f}" for k in ("cls", "l1", "giou", "dense") if k in m)
                logging.getLogger("sensorium.train").warning(
                    "step %d loss %.3f (%s) lr %.2e %.0fs", m["step"], m["loss"], parts, m["lr"], time.time() - start)

        try:
            ckpt = train_detect(out, model_config=model_config, train_config=train_config, resume=resume,
                                checkpoint_every=checkpoint_every, snapshot_every=snapshot_every, init_from=init_from, on_step=on_step)
        except (ValueError, FileNotFoundError, FileExistsError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    console.print(f"checkpoint: {ckpt}")
    if ship is not None:
        console.print(f"shipped: {ship_weights(ckpt, ship)}")


@eval_app.command("detect")
def eval_detect_cmd(
    weights: Path = typer.Option(..., "--weights", "-w", help="A shipped .pt (with its .json) or a training checkpoint (last.pt)."),
    split_seed: int = typer.Option(1000, "--split-seed", help="Seed of the held-out generated split (training uses 0)."),
    n: int = typer.Option(200, "--n", help="Images in the split."),
    batch_size: int = typer.Option(8, help="Images per forward pass."),
    threads: int = typer.Option(2, help="torch CPU threads."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """COCO mAP (pycocotools) of a trained shapes DETR on a held-out generated split."""
    setup_logging(verbose)
    import torch

    from sensorium.pipeline.tools.eval_detect import evaluate_detr

    torch.set_num_threads(threads)
    try:
        metrics = evaluate_detr(weights, split_seed=split_seed, n=n, batch_size=batch_size)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{weights.name}: {n} images, split seed {split_seed}")
    for key in ("mAP", "mAP50", "mAP75", "AP_small", "AP_medium", "AP_large"):
        table.add_column(key, justify="right")
    table.add_row(*(f"{metrics[k]:.3f}" for k in ("mAP", "mAP50", "mAP75", "AP_small", "AP_medium", "AP_large")))
    Console().print(table)


@train_app.command("embed")
def train_embed_cmd(
    pairs: str = typer.Option(..., "--pairs", help="Folder of images with .txt captions, a .parquet (path, caption), generated:N or generated-icons:N."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for model.pt and train.json."),
    model: Optional[str] = typer.Option("ViT-B-32", help="open_clip architecture (ignored with --config-json)."),
    family: str = typer.Option("clip", help="clip (ClipLoss) or siglip (SigLipLoss)."),
    weights: Optional[str] = typer.Option(None, help="Checkpoint to start from (none: random init)."),
    config_json: Optional[str] = typer.Option(None, "--config-json", help="A custom open_clip model config (JSON)."),
    steps: int = typer.Option(200), batch_size: int = typer.Option(32), lr: float = typer.Option(5e-4), seed: int = typer.Option(0),
    threads: int = typer.Option(2, help="torch CPU threads."),
    warmup: int = typer.Option(20, help="Linear warmup steps."),
    schedule: str = typer.Option("constant", help="Learning rate after warmup: constant or cosine (decays to 0)."),
) -> None:
    """Fine-tune CLIP/SigLIP on image-text pairs with open_clip's losses; prints held-out recall before and after."""
    import torch

    from sensorium.models.training.clip_train import EmbedTrainConfig

    from sensorium.pipeline.tools.train_embed import train_embed

    torch.set_num_threads(threads)
    try:
        report = train_embed(pairs, out, model=model, family=family, weights=weights, config_json=config_json,
                             train=EmbedTrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                                                                    warmup=warmup, schedule=schedule))
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report))

from sensorium.pipeline.cli.train_pose import train_pose_cmd  # noqa: E402 - `sensorium train pose`, in its own module
train_app.command("pose")(train_pose_cmd)
from sensorium.pipeline.cli.train_gaze import train_gaze_cmd  # noqa: E402 - `sensorium train gaze`
train_app.command("gaze")(train_gaze_cmd)
from sensorium.pipeline.cli.eval_depth import eval_depth_cmd  # noqa: E402 - `sensorium eval depth`
eval_app.command("depth")(eval_depth_cmd)
