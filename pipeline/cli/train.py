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

train_app = typer.Typer(help="Train models on generated data or your own COCO-format set.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure models on held-out generated data or your own COCO-format set.", no_args_is_help=True)


def _with_progress(total: int, run):
    """``run(on_step)`` under a progress bar of ``total`` steps, logging the losses every 20 steps;
    errors a user can fix (bad data, existing run, missing weights) exit 2 with their message."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from sensorium.models.hub.weights import WeightsNotFoundError

    start = time.time()
    columns = (TextColumn("[bold]train detect"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.3f}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("train", total=total, loss=float("nan"))

        def on_step(m: dict[str, float]) -> None:
            progress.update(task, completed=int(m["step"]), loss=m["loss"])
            if int(m["step"]) % 20 == 0:
                parts = " ".join(f"{k} {m[k]:.3f}" for k in ("cls", "l1", "giou", "dense") if k in m)
                logging.getLogger("sensorium.train").warning(
                    "step %d loss %.3f (%s) lr %.2e %.0fs", m["step"], m["loss"], parts, m["lr"], time.time() - start)

        try:
            return run(on_step)
        except WeightsNotFoundError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        except (ValueError, FileNotFoundError, FileExistsError, KeyError) as exc:
            console.print(f"[red]error:[/red] {str(exc).strip(chr(34))}")
            raise typer.Exit(2) from None


@train_app.command("detect")
def train_detect_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: last.pt (checkpoint) and metrics.jsonl."),
    data: Optional[Path] = typer.Option(None, "--data", help="A COCO instances JSON: fine-tune --init-from on it (else: the generated shapes)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder the JSON's file_name entries are relative to (default: the JSON's folder)."),
    init_from: Optional[str] = typer.Option(None, help="Start from: a registered name (detr-r50-coco), an imported .pt, a checkpoint, "
                                            "a facebookresearch .pth or a Hugging Face folder. With --data, default detr-r50-coco."),
    allow_download: bool = typer.Option(False, "--allow-download", help="Fetch a registered --init-from that is not in the cache."),
    backbone: str = typer.Option("resnet50", help="Backbone of a facebookresearch .pth --init-from (the other starts record theirs)."),
    min_size: Optional[int] = typer.Option(None, help="With --data: shorter image side to train at (default: the start model's)."),
    max_size: Optional[int] = typer.Option(None, help="With --data: longer side cap (default: 1333/800 of --min-size)."),
    steps: int = typer.Option(3000, help="DETR optimiser steps (the LR schedule is laid out over these)."),
    pretrain_steps: Optional[int] = typer.Option(None, help="Dense backbone pretraining steps before DETR (default 1000; 0 with --data)."),
    pretrain_lr: float = typer.Option(1e-3, help="Learning rate of the backbone pretraining."),
    dense_weight: float = typer.Option(1.0, help="Weight of the dense auxiliary loss during DETR steps (0: off; unused with --data)."),
    seed: int = typer.Option(0, help="Training split seed and init seed."),
    resume: bool = typer.Option(False, "--resume", help="Continue OUT/last.pt exactly where it stopped."),
    no_spp: bool = typer.Option(False, "--no-spp", help="Train without the SPP block (the ablation; not with --data)."),
    batch_size: int = typer.Option(8, help="Images per step."),
    lr: float = typer.Option(1e-4, help="Peak DETR learning rate (transformer and heads)."),
    backbone_lr_mult: Optional[float] = typer.Option(None, help="Backbone LR / --lr (default 1; 0.1 with --data, as DETR fine-tunes)."),
    checkpoint_every: int = typer.Option(100, help="Write OUT/last.pt every this many steps."),
    snapshot_every: Optional[int] = typer.Option(None, help="Also keep OUT/step{N}.pt every this many steps (shapes only)."),
    decay_at: str = typer.Option("0.75", help="Comma-separated fractions of --steps where the LR drops 10x ('' for none)."),
    threads: int = typer.Option(2, help="torch CPU threads."),
    ship: Optional[Path] = typer.Option(None, help="At the end, also write an fp16 state dict + JSON here (shapes only)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train a DETR with SPP: on generated shapes, or fine-tuned from a public DETR on a COCO-format set (--data)."""
    setup_logging(verbose)
    import torch

    from sensorium.models.training.detr_train import TrainConfig

    torch.set_num_threads(threads)
    try:
        decays = tuple(float(x) for x in decay_at.split(",") if x.strip())
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated fractions, got {decay_at!r}", param_hint="--decay-at") from None
    pre = pretrain_steps if pretrain_steps is not None else (0 if data else 1000)
    mult = backbone_lr_mult if backbone_lr_mult is not None else (0.1 if data else 1.0)
    train_config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, warmup=min(100, max(1, steps // 10)), decay_at=decays,
                               pretrain_steps=pre, pretrain_lr=pretrain_lr, dense_weight=dense_weight, backbone_lr_mult=mult)
    if data is not None:
        if no_spp or ship is not None or snapshot_every is not None:
            raise typer.BadParameter("--no-spp, --ship and --snapshot-every are for the shapes model, not with --data", param_hint="--data")
        from sensorium.pipeline.io.coco_dataset import CocoSource
        from sensorium.pipeline.tools.finetune_detect import FinetuneData, finetune_detect

        source = FinetuneData(CocoSource(str(data), None if images is None else str(images)), min_size, max_size, backbone)
        result = _with_progress(train_config.total_steps, lambda on_step: finetune_detect(
            out, data=source, init_from=init_from or "detr-r50-coco", train=train_config, resume=resume,
            checkpoint_every=checkpoint_every, allow_download=allow_download, on_step=on_step))
        console.print(f"{'weights' if result.name != 'last.pt' else 'checkpoint'}: {result}")
        return
    _train_shapes(out, train_config, no_spp=no_spp, resume=resume, checkpoint_every=checkpoint_every,
                  snapshot_every=snapshot_every, init_from=init_from, ship=ship)


def _train_shapes(out: Path, train_config, *, no_spp: bool, resume: bool, checkpoint_every: int, snapshot_every: Optional[int],
                  init_from: Optional[str], ship: Optional[Path]) -> None:
    """``train detect`` without ``--data``: the shapes DETR (resnet-lite stride 16, dim 128, SPP) on generated images."""
    import dataclasses

    from sensorium.models.zoo.detr_shapes import SHIPPED_CONFIG
    from sensorium.pipeline.tools.train_detect import ship_weights, train_detect

    model_config = dataclasses.replace(SHIPPED_CONFIG, spp=not no_spp)
    ckpt = _with_progress(train_config.total_steps, lambda on_step: train_detect(
        out, model_config=model_config, train_config=train_config, resume=resume, checkpoint_every=checkpoint_every,
        snapshot_every=snapshot_every, init_from=init_from, on_step=on_step))
    console.print(f"checkpoint: {ckpt}")
    if ship is not None:
        console.print(f"shipped: {ship_weights(ckpt, ship)}")


@eval_app.command("detect")
def eval_detect_cmd(
    weights: str = typer.Option("detr_spp_shapes", "--weights", "-w", help="A registered name (default: the shipped model), an imported "
                                "or fine-tuned .pt (with its .json), or a training checkpoint (last.pt)."),
    data: Optional[Path] = typer.Option(None, "--data", help="A COCO instances JSON to evaluate on (default: the generated held-out split)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder the JSON's file_name entries are relative to (default: the JSON's folder)."),
    min_size: Optional[int] = typer.Option(None, help="With --data: shorter side (default: the weights' own)."),
    max_size: Optional[int] = typer.Option(None, help="With --data: longer side cap (default: the weights' own)."),
    allow_download: bool = typer.Option(False, "--allow-download", help="Fetch registered weights that are not in the cache."),
    split_seed: int = typer.Option(1000, "--split-seed", help="Seed of the held-out generated split (training uses 0)."),
    n: int = typer.Option(200, "--n", help="Images in the generated split."),
    batch_size: int = typer.Option(8, help="Images per forward pass."),
    threads: int = typer.Option(2, help="torch CPU threads."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """COCO mAP (pycocotools) of a DETR: on a COCO-format set (--data), or the shapes model on a held-out generated split."""
    setup_logging(verbose)
    import torch

    from sensorium.models.hub.weights import WeightsNotFoundError
    from sensorium.pipeline.tools.eval_detect import METRIC_NAMES, evaluate_coco, evaluate_detr

    torch.set_num_threads(threads)
    try:
        if data is not None:
            from sensorium.pipeline.io.coco_dataset import CocoSource

            source = CocoSource(str(data), None if images is None else str(images))
            metrics = evaluate_coco(weights, source, min_size=min_size, max_size=max_size, batch_size=batch_size, allow_download=allow_download)
            title = f"{weights}: {metrics['n']} images of {data.name}"
        else:
            from sensorium.models.hub.weights import resolve

            path = Path(weights) if Path(weights).is_file() else resolve(weights, allow_download=allow_download)
            metrics = evaluate_detr(path, split_seed=split_seed, n=n, batch_size=batch_size)
            title = f"{weights}: {n} generated images, split seed {split_seed}"
    except (ValueError, FileNotFoundError, KeyError, WeightsNotFoundError) as exc:
        console.print(f"[red]error:[/red] {str(exc).strip(chr(34))}")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
        return
    from rich.table import Table

    table = Table(title=title)
    for key in METRIC_NAMES:
        table.add_column(key, justify="right")
    table.add_row(*(f"{metrics[k]:.3f}" for k in METRIC_NAMES))
    console.print(table)


@train_app.command("embed")
def train_embed_cmd(
    pairs: str = typer.Option(..., "--pairs", help="Folder of images with .txt captions, a .parquet (path, caption), generated:N, generated-icons:N or material-icons:N."),
    font: str = typer.Option("/usr/share/fonts/truetype/material-design-icons-iconfont/MaterialIcons-Regular.ttf", "--font",
                             help="The Material Icons font material-icons:N draws from (Debian: fonts-material-design-icons-iconfont)."),
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
                                                                    warmup=warmup, schedule=schedule), font=font)
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
