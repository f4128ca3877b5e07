"""``sensorium run``, ``sample`` and ``calibrate``: the edge where options become config values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sensorium.pipeline.cli.common import console, fail, parse_sets, setup_logging

app = typer.Typer(help="Run stages over sources, write the sample, calibrate a stereo rig.")


@app.command()
def run(
    source: List[str] = typer.Option([], "--source", "-s", help="Video file, webcam index, rtsp/http URL, image folder or glob, rgbd:FOLDER, or 'sample' (repeat for several sources). Default: the bundled synthetic sample."),
    left: Optional[str] = typer.Option(None, help="Left image/folder/video of a stereo pair."),
    right: Optional[str] = typer.Option(None, help="Right image/folder/video of a stereo pair."),
    side_by_side: Optional[str] = typer.Option(None, "--side-by-side", help="A source whose frames hold left|right halves."),
    calib: Optional[Path] = typer.Option(None, help="Stereo calibration (OpenCV YAML/XML or JSON: K1 D1 K2 D2 R T). None: the pair is taken as rectified."),
    stages: Optional[str] = typer.Option(None, help="Comma-separated stage names. Default: every available stage."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    sinks: str = typer.Option("jsonl,npz,video,ply", help="Comma-separated sinks: jsonl, npz, video, ply, tsdf."),
    config: Optional[Path] = typer.Option(None, help="Pipeline YAML (stages with options, replicas, resources, batching)."),
    set_: List[str] = typer.Option([], "--set", help="Stage option override STAGE.OPTION=VALUE (repeatable)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Existing Ray cluster address; default starts a local Ray."),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port", help="Serve Prometheus metrics on this port."),
    max_frames: Optional[int] = typer.Option(None, help="Stop after this many frames in all."),
    max_in_flight: int = typer.Option(16, help="Frames in the pipeline at once (backpressure bound)."),
    drop_policy: Optional[str] = typer.Option(None, help="Live sources: drop_oldest or latest_only (files never drop)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run stages over sources (default: the bundled synthetic stereo + RGB-D sample) into OUT."""
    setup_logging(verbose)
    from sensorium.pipeline.io.sinks import build_sinks

    try:  # every stage's options are typed and validated here, before a source opens or Ray starts
        cfg = _pipeline_config(config, stages, set_, ray_address=ray_address, metrics_port=metrics_port,
                               max_in_flight=max_in_flight, drop_policy=drop_policy)
        srcs = _open_sources(source, left, right, side_by_side, calib)
        sink_objs = build_sinks([s.strip() for s in sinks.split(",") if s.strip()], out)
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None

    console.print(f"stages: {', '.join(s.name for s in cfg.stages)}  sources: {', '.join(s.source_id for s in srcs)}  out: {out}")
    try:
        summary = _run_with_progress(cfg, srcs, sink_objs, max_frames)
    except (ValueError, FileNotFoundError, TimeoutError, RuntimeError) as exc:
        raise fail(str(exc), 1) from None
    _print_summary(summary)
    (out / "summary.json").write_text(json.dumps(_summary_dict(summary), indent=2))


def _pipeline_config(config: Optional[Path], stages: Optional[str], sets: List[str], *, ray_address: Optional[str],
                     metrics_port: Optional[int], max_in_flight: int, drop_policy: Optional[str]) -> Any:
    """The run's :class:`PipelineConfig`: the YAML file's, or one spec per ``--stages`` name (default:
    every available stage), with the command-line values and ``--set`` options merged in. Every
    stage's config object is built (typed, validated) on the way: a ConfigError names the option."""
    from dataclasses import replace

    from sensorium.pipeline.stream.config import PipelineConfig, StageSpec

    if config is not None:
        cfg = PipelineConfig.from_file(config)
    else:
        names = [n.strip() for n in stages.split(",") if n.strip()] if stages else _available_stage_names()
        # resources are left to the engine's planner: one CPU per actor, or a share of a smaller machine
        cfg = PipelineConfig(stages=tuple(StageSpec(n) for n in names))
    cfg = replace(cfg, ray_address=ray_address or cfg.ray_address, metrics_port=metrics_port if metrics_port is not None else cfg.metrics_port,
                  max_in_flight=max_in_flight, drop_policy=drop_policy or cfg.drop_policy)
    for stage_name, opts in parse_sets(sets).items():
        if stage_name not in [s.name for s in cfg.stages]:
            raise typer.BadParameter(f"--set names stage {stage_name!r}, which is not in this run ({', '.join(s.name for s in cfg.stages)})")
        cfg = cfg.with_stage_options(stage_name, **opts)
    return cfg


def _available_stage_names() -> list[str]:
    """The stages that can run here, saying on stderr why each other one cannot."""
    from sensorium.stages.base import available_stages

    avail = available_stages()
    for n, (ok, why) in avail.items():
        if not ok:
            console.print(f"[yellow]stage {n} not available: {why}[/yellow]")
    return [n for n, (ok, _why) in avail.items() if ok]


def _open_sources(source: List[str], left: Optional[str], right: Optional[str], side_by_side: Optional[str], calib: Optional[Path]) -> list[Any]:
    """The run's sources: a stereo pair, a side-by-side source, each ``--source``; the bundled sample when none."""
    from sensorium.pipeline.io.sources import open_source, open_stereo

    srcs = []
    if left or right:
        if not (left and right):
            raise typer.BadParameter("--left and --right come together")
        srcs.append(open_stereo(left, right, calib=calib))
    if side_by_side:
        srcs.append(open_stereo(side_by_side, None, calib=calib, side_by_side=True))
    for i, spec in enumerate(source):
        sid = None if len(source) == 1 else f"src{i}"
        # --calib belongs to stereo input; a stereo folder (left/ + right/) takes it too
        srcs.append(open_source(spec, source_id=sid, calib=calib) if calib else open_source(spec, source_id=sid))
    if not srcs:  # the bundled sample: its stereo pairs and its RGB-D frames as two sources
        srcs += [open_source("sample"), open_source("sample:rgbd")]
    return srcs


def _run_with_progress(cfg: Any, srcs: list[Any], sink_objs: list[Any], max_frames: Optional[int]) -> Any:
    """Run the pipeline with a progress bar (frames and fps) on stderr; the run's summary."""
    import time

    from sensorium.pipeline.stream.engine import Pipeline

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[fps]:.1f} fps"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        lengths = [len(s) if hasattr(s, "__len__") else None for s in srcs]
        total = max_frames if max_frames else (sum(lengths) if all(n is not None for n in lengths) else None)
        task = progress.add_task("frames", total=total, fps=0.0)
        t0 = time.perf_counter()
        done = [0]

        def on_frame(_frame: Any) -> None:
            done[0] += 1
            progress.update(task, advance=1, fps=done[0] / max(time.perf_counter() - t0, 1e-9))

        with Pipeline(cfg) as pipeline:
            return pipeline.run(srcs, sink_objs, on_frame=on_frame, max_frames=max_frames)


@app.command()
def sample(
    out: Path = typer.Option(Path("sample"), "--out", "-o", help="Folder to write the sample into."),
    frames: int = typer.Option(8, help="Number of frames."),
    width: int = typer.Option(640),
    height: int = typer.Option(480),
    seed: int = typer.Option(0),
) -> None:
    """Write the bundled synthetic stereo + RGB-D sample (with ground truth) to OUT."""
    from sensorium.pipeline.io.sample import make_sample, write_sample

    path = write_sample(make_sample(frames, width, height, seed), out)
    console.print(f"wrote {frames} frames to {path} (left/, right/, calib.yaml, rgbd/, gt/)")


@app.command()
def calibrate(
    left: str = typer.Option(..., help="Glob of left chessboard images, e.g. 'L*.jpg'."),
    right: str = typer.Option(..., help="Glob of right chessboard images (paired with left by sorted name)."),
    board: str = typer.Option("9x6", help="Inner corners COLSxROWS."),
    square: float = typer.Option(0.025, help="Square size in metres (T comes out in metres)."),
    out: Path = typer.Option(Path("calib.yaml"), "--out", "-o", help="Calibration file to write (.yaml/.yml/.xml/.json)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Stereo calibration from chessboard pairs; prints the reprojection error and writes OUT for --calib."""
    setup_logging(verbose)
    import glob as globmod

    from sensorium.stages.depth.calibration import calibrate_stereo

    from sensorium.pipeline.io.calibration import write_stereo_calibration
    from sensorium.pipeline.io.sources import read_image

    try:
        cols, _, rows = board.lower().partition("x")
        board_size = (int(cols), int(rows))
    except ValueError:
        raise typer.BadParameter(f"expected COLSxROWS like 9x6, got {board!r}", param_hint="--board") from None
    lefts, rights = sorted(globmod.glob(left)), sorted(globmod.glob(right))
    if not lefts or not rights:
        console.print(f"[red]error:[/red] no images match {left if not lefts else right!r}")
        raise typer.Exit(2)
    if len(lefts) != len(rights):
        console.print(f"[red]error:[/red] {len(lefts)} left images but {len(rights)} right images")
        raise typer.Exit(2)
    try:
        calib, report = calibrate_stereo([read_image(p) for p in lefts], [read_image(p) for p in rights], board_size, square)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    write_stereo_calibration(out, calib)
    t = Table(title=f"stereo calibration: {len(report.used)} of {len(lefts)} pairs used")
    t.add_column("pair")
    t.add_column("left rms px", justify="right")
    t.add_column("right rms px", justify="right")
    for i, (el, er) in sorted(report.per_pair.items()):
        t.add_row(Path(lefts[i]).name, f"{el:.3f}", f"{er:.3f}")
    for i, why in sorted(report.skipped.items()):
        t.add_row(Path(lefts[i]).name, "skipped", why)
    Console().print(t)
    Console().print(f"reprojection error (stereo rms): {report.rms:.3f} px; left {report.rms_left:.3f} px, right {report.rms_right:.3f} px; "
                    f"baseline {calib.baseline:.4f} m; image {report.image_size[0]}x{report.image_size[1]}; written to {out}")


def _summary_dict(summary: Any) -> dict[str, Any]:
    return {
        "frames": summary.frames, "errors": summary.errors, "dropped": summary.dropped, "source_states": summary.source_states,
        "wall_s": summary.wall_s, "fps": summary.fps, "stages": summary.stages, "max_in_flight_seen": summary.max_in_flight_seen,
        "sinks": summary.sinks,
    }


def _print_summary(summary: Any) -> None:
    out = Console()
    t = Table(title="sources")
    for col in ("source", "frames", "errors", "dropped", "state"):
        t.add_column(col, justify="right" if col in ("frames", "errors", "dropped") else "left")
    for sid, state in summary.source_states.items():
        t.add_row(sid, str(summary.frames.get(sid, 0)), str(summary.errors.get(sid, 0)), str(summary.dropped.get(sid, 0)), state)
    out.print(t)
    s = Table(title=f"stages — {summary.total_frames} frames in {summary.wall_s:.2f} s = {summary.fps:.2f} fps")
    for col in ("stage", "p50 ms", "p95 ms", "mean batch", "wait+hop ms", "calls"):
        s.add_column(col, justify="left" if col == "stage" else "right")
    for name, st in summary.stages.items():
        s.add_row(name, f"{st['p50_ms']:.1f}", f"{st['p95_ms']:.1f}", f"{st['mean_batch']:.1f}", f"{st['overhead_ms']:.1f}", str(st["calls"]))
    out.print(s)
