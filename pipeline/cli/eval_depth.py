"""``sensorium eval depth``: score the depth stage's disparity on a user's own stereo pair."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from sensorium.pipeline.cli.common import console, fail, parse_sets, setup_logging


def eval_depth_cmd(
    left: Path = typer.Option(..., "--left", help="Left image of a rectified pair."),
    right: Path = typer.Option(..., "--right", help="Right image of the pair."),
    gt: Path = typer.Option(..., "--gt", help="Ground-truth disparity of the left view: Middlebury .pfm, or a 16/8-bit PNG (see --gt-scale)."),
    gt_scale: Optional[float] = typer.Option(None, "--gt-scale", help="PNG value per pixel of disparity (KITTI 256, Middlebury 2001-2006 4 or 8). Default 256 for 16-bit, 1 for 8-bit."),
    set_: List[str] = typer.Option([], "--set", help="Depth option override depth.OPTION=VALUE (repeatable), e.g. depth.num_disparities=128."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores and the range as JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """EPE, bad-1/2/4 and coverage of the depth stage's disparity against ground truth (unknown GT pixels excluded)."""
    setup_logging(verbose)
    from sensorium.pipeline.io.disparity import read_disparity
    from sensorium.pipeline.io.images import read_image
    from sensorium.stages.depth.evaluate import evaluate_disparity
    from sensorium.stages.depth.stage import DepthStage
    from sensorium.stages.frame import Frame

    try:
        options = parse_sets(set_)
        unknown = sorted(set(options) - {"depth"})
        if unknown:
            raise ValueError(f"--set: only depth.OPTION applies here, got {', '.join(unknown)}")
        stage = DepthStage(options.get("depth", {}))
        images = read_image(left), read_image(right)
        truth = read_disparity(gt, gt_scale)
        if truth.shape != images[0].shape[:2]:
            raise ValueError(f"ground truth {gt} is {truth.shape[1]}x{truth.shape[0]}, the left image {images[0].shape[1]}x{images[0].shape[0]}")
        (frame,) = stage([Frame(left.stem, 0, image=images[0], right=images[1])])
        if not frame.ok:
            raise ValueError(next(iter(frame.errors.values())))
        depth = frame.results["depth"]
        scores = evaluate_disparity(depth.disparity, truth)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    meta = {k: depth.metadata.get(k) for k in ("min_disparity", "num_disparities", "range_method", "saturated_fraction", "no_texture")}
    if as_json:
        typer.echo(json.dumps({**scores.to_dict(), **{k: v for k, v in meta.items() if v is not None}}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{left.name} vs {gt.name}: {scores.pixels} ground-truth pixels")
    for key in ("EPE px", "bad-1 %", "bad-2 %", "bad-4 %", "coverage %"):
        table.add_column(key, justify="right")
    table.add_row(f"{scores.epe:.3f}", *(f"{100 * v:.2f}" for v in (scores.bad1, scores.bad2, scores.bad4, scores.coverage)))
    Console().print(table)
    if meta.get("no_texture"):
        console.print("[yellow]no texture: the pair gave no depth[/yellow]")
    else:
        console.print(f"disparity range [{meta['min_disparity']}, {meta['min_disparity'] + meta['num_disparities']}) ({meta['range_method']}), "
                      f"saturated {100 * meta['saturated_fraction']:.1f}%")
