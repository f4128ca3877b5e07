"""``sensorium train gaze``: the gaze stage's sigma head (and, on request, its 3-D face model).

A plain function; ``train.py`` registers it on ``train_app`` (no import back, so no cycle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from sensorium.pipeline.cli.common import console, setup_logging



def train_gaze_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: cached features, gaze_sigma.onnx and .json."),
    steps: int = typer.Option(500, help="Full-batch optimiser steps."),
    stride: int = typer.Option(2, help="Use every STRIDE-th frame of the clip's training range."),
    heldout_stride: int = typer.Option(2, help="Every this many frames of the held-out range."),
    per_image: int = typer.Option(10, help="Degraded copies of every frame."),
    seed: int = typer.Option(0),
    ship: Optional[Path] = typer.Option(None, help="Also write the head here (e.g. models/zoo/weights/gaze_sigma.onnx)."),
    face_model: Optional[Path] = typer.Option(None, "--face-model", help="Instead: rebuild the 3-D face model CSV here."),
    threads: int = typer.Option(2, help="torch CPU threads."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train the RLE sigma head of the gaze stage on real faces with held-out degradations; prints held-out metrics."""
    import torch

    from sensorium.models.hub.weights import data_dir
    from sensorium.pipeline.tools.train_gaze import build_face_model_file, train_gaze

    setup_logging(verbose)
    torch.set_num_threads(threads)
    try:
        if face_model is not None:
            typer.echo(json.dumps({"faces": build_face_model_file(data_dir(), face_model), "path": str(face_model)}))
            return
        report = train_gaze(data_dir(), out, steps=steps, stride=stride, per_image=per_image, seed=seed,
                            heldout_stride=heldout_stride, ship=ship)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report))
