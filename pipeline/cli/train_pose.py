"""``sensorium train pose``: the pose sigma head (our own RLE head on MediaPipe pose features).

Registered on ``train_app`` by ``pipeline/cli/train.py`` (its last lines), so this module does not
import that one (no cycle between the CLI's modules). Heavy imports happen inside the command, so ``sensorium --help`` stays fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from sensorium.pipeline.cli.common import console, setup_logging


def train_pose_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: feature caches, metrics.json, pose_sigma_rle.onnx + .json."),
    frames: int = typer.Option(40, help="Frames per video in the train split (evenly spaced in its frame range)."),
    held_out_frames: int = typer.Option(16, help="Frames per video in the held-out split."),
    repeats: int = typer.Option(6, help="Degraded copies of each person (photos: 4x this)."),
    steps: int = typer.Option(300, help="AdamW steps on the cached features."),
    batch_size: int = typer.Option(32, help="Crops per step (x 33 points through the flow)."),
    lr: float = typer.Option(1e-3, help="Peak learning rate (cosine decay)."),
    weight_decay: float = typer.Option(10.0, help="AdamW weight decay on the correction (mu)."),
    sigma_weight_decay: float = typer.Option(1.0, help="AdamW weight decay on sigma's weights (the flow has none)."),
    correct: bool = typer.Option(False, "--correct/--no-correct", help="Also learn a correction of (x, y) (off: mu stays zero)."),
    seed: int = typer.Option(0, help="Degradation and init seed."),
    data: Optional[Path] = typer.Option(None, help="Real data folder (default: $SENSORIUM_DATA)."),
    ship: Optional[Path] = typer.Option(None, help="Also copy the head + JSON here (e.g. models/zoo/weights/pose_sigma_rle.onnx)."),
    threads: int = typer.Option(2, help="torch CPU threads."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train the pose sigma head on real frames: teacher = the landmark model on the clean frame, student = on degraded input."""
    setup_logging(verbose)
    import torch

    from sensorium.models.hub.weights import data_dir
    from sensorium.pipeline.tools.train_pose import PoseTrainConfig, train_pose

    torch.set_num_threads(threads)
    command = (f"sensorium train pose --out {out} --frames {frames} --held-out-frames {held_out_frames} --repeats {repeats} "
               f"--steps {steps} --batch-size {batch_size} --lr {lr} --weight-decay {weight_decay} --sigma-weight-decay {sigma_weight_decay} {'--correct' if correct else '--no-correct'} --seed {seed}" + (f" --ship {ship}" if ship else ""))
    start = time.time()
    try:
        config = PoseTrainConfig(frames=frames, held_out_frames=held_out_frames, repeats=repeats, steps=steps, batch_size=batch_size, lr=lr,
                                 weight_decay=weight_decay, sigma_weight_decay=sigma_weight_decay, correct=correct, seed=seed)
        metrics = train_pose(out, data or data_dir(), config, command=command, ship=ship,
                             on_frame=lambda rel, i: console.log(f"{rel} frame {i} ({time.time() - start:.0f} s)") if verbose else None)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(json.dumps(metrics["held_out"]))
