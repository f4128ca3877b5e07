"""``sensorium run``, ``sample`` and ``calibrate``: the edge where options become config values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rich.markup import escape

from sensorium.pipeline.cli.checks import check_sources, check_stages, unfed_stage
from sensorium.pipeline.cli.common import console, fail, parse_sets, setup_logging
from sensorium.pipeline.cli.zones import with_zones

app = typer.Typer(help="Run stages over sources, write the sample, calibrate a stereo rig.")

#: ``sensorium run``'s exit codes (also in its --help)
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_SOURCE_FAILED = 0, 1, 2, 3
#: live sources when neither the command line nor the YAML says otherwise: retry with backoff up
#: to 10 s apart, give up after 60 s without a frame (a missing camera ends the run, it does not
#: hang it; ``--source-timeout 0`` retries forever)
RUN_RECONNECT = {"max_delay_s": 10.0, "give_up_after_s": 60.0}


@app.command()
def run(
    source: List[str] = typer.Option([], "--source", "-s", help="Video file, webcam index, rtsp/http URL, image folder or glob, rgbd:FOLDER, or 'sample' (repeat for several sources); NAME=SPEC names it (default: the file stem, cam0, host/path). Default: the bundled synthetic sample."),
    left: Optional[str] = typer.Option(None, help="Left image/folder/video of a stereo pair."),
    right: Optional[str] = typer.Option(None, help="Right image/folder/video of a stereo pair."),
    side_by_side: Optional[str] = typer.Option(None, "--side-by-side", help="A source whose frames hold left|right halves."),
    calib: Optional[Path] = typer.Option(None, help="Stereo calibration (OpenCV YAML/XML or JSON: K1 D1 K2 D2 R T). None: the pair is taken as rectified."),
    stages: Optional[str] = typer.Option(None, help="Comma-separated stage names. Default: every available stage."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    sinks: Optional[str] = typer.Option(None, help="Comma-separated sinks: jsonl, npz, video, ply, tsdf, rerun (OUT/run.rrd; --set rerun.serve=true also serves Rerun's web viewer on 127.0.0.1 while the run goes on). Default: jsonl,npz,video, and ply when a stage makes point clouds (depth.point_cloud=true)."),
    config: Optional[Path] = typer.Option(None, help="Pipeline YAML (stages with options, replicas, resources, batching)."),
    set_: List[str] = typer.Option([], "--set", help="Stage option override STAGE.OPTION=VALUE, or a sink's SINK.OPTION=VALUE (repeatable; the video sink also takes its drawing: video.color_by=track, video.labels=[class,track], video.text_scale=1.5, video.trail=60)."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write OUT/report.html at the end: summary, latency and throughput plots, source timeline, contact sheet."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Existing Ray cluster address; default starts a local Ray."),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port", help="Serve Prometheus metrics on this port."),
    max_frames: Optional[int] = typer.Option(None, help="Stop after this many frames in all."),
    max_in_flight: int = typer.Option(16, help="Frames in the pipeline at once (backpressure bound)."),
    drop_policy: Optional[str] = typer.Option(None, help="Live sources: drop_oldest or latest_only (files never drop)."),
    reconnect_attempts: Optional[int] = typer.Option(None, "--reconnect-attempts", help="Live sources: retries after a lost or failed connection before giving up (0: none). Default: no limit on the count, bounded by --source-timeout."),
    reconnect_max_backoff: Optional[float] = typer.Option(None, "--reconnect-max-backoff", help="Live sources: longest wait between retries, seconds (backoff doubles from 0.5 s). Default 10."),
    source_timeout: Optional[float] = typer.Option(None, "--source-timeout", help="Live sources: give up after this many seconds without a frame (0: never). Default 60."),
    drain_timeout: Optional[float] = typer.Option(None, "--drain-timeout", help="On SIGINT/SIGTERM: seconds the frames in flight may take to finish before the rest are dropped. Default 10."),
    zone: List[str] = typer.Option([], "--zone", help="Polygon zone SOURCE:NAME=x1,y1,x2,y2,x3,y3,... counting tracks inside, entering, leaving (pixels, or fractions of the image when all in 0..1; SOURCE: optional with one source; repeatable). Adds the zones stage (needs track). docs/zones.md."),
    line: List[str] = typer.Option([], "--line", help="Counting line SOURCE:NAME=x1,y1,x2,y2: tracks crossing it in (onto its left, start to end as drawn) and out. Repeatable; as --zone."),
    allow_download: bool = typer.Option(False, "--allow-download", help="Fetch registered weights a stage names that are not here yet (verified by sha256) before the run starts; without it a missing one is an error naming the file, its URL and the cache path."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run stages over sources (default: the bundled synthetic stereo + RGB-D sample) into OUT.

    Ctrl-C or SIGTERM stops cleanly: no more frames are read, the frames in flight finish (or
    are dropped after --drain-timeout; a second signal drops them at once), the sinks are
    flushed, the summary and OUT/summary.json are written (its "stop" entry counts each kind).

    Exit codes: 0 the run ended (sources done, --max-frames reached, or stopped on request) with
    every source well; 1 the pipeline failed; 2 bad input, nothing ran; 3 a source failed (a
    live source gave up reconnecting, a video file was truncated): summary.json names it.
    """
    setup_logging(verbose)
    from sensorium.pipeline.io.sinks import build_sinks, split_sink_sets
    from sensorium.pipeline.report import RunRecorder, write_report

    try:  # every stage's options are typed and validated here, before a source opens or Ray starts
        set_, sink_sets = split_sink_sets(set_)
        cfg = _pipeline_config(config, stages, set_, ray_address=ray_address, metrics_port=metrics_port,
                               max_in_flight=max_in_flight, drop_policy=drop_policy)
        cfg = _with_stop_policy(cfg, reconnect_attempts, reconnect_max_backoff, source_timeout, drain_timeout)
        check_stages([(s.name, s.config) for s in cfg.stages], command="run", allow_download=allow_download)
        srcs = _open_sources(source, left, right, side_by_side, calib, reconnect=cfg.reconnect)
        if config is None and stages is None:  # "every available stage": those the sources can feed
            cfg = _fed_stages(cfg, srcs)
        cfg = with_zones(cfg, zone, line, [s.source_id for s in srcs])
        check_sources([s.name for s in cfg.stages], srcs)
        sink_objs = build_sinks(_sink_names(sinks, cfg), out, sink_options=sink_sets)
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None

    console.print(f"stages: {', '.join(s.name for s in cfg.stages)}  sources: {', '.join(s.source_id for s in srcs)}  out: {out}")
    for url in filter(None, (getattr(s, "viewer_url", None) for s in sink_objs)):
        console.print(f"rerun web viewer: {url}")
    recorder = RunRecorder(sources=srcs) if report else None  # beside the sinks: it sees every frame
    try:
        summary = _run_with_progress(cfg, srcs, [*sink_objs, *filter(None, [recorder])], max_frames)
    except (ValueError, FileNotFoundError, TimeoutError, RuntimeError) as exc:
        raise fail(str(exc), EXIT_FAILED) from None
    _print_summary(summary)
    code = EXIT_SOURCE_FAILED if summary.failed_sources else EXIT_OK
    out.mkdir(parents=True, exist_ok=True)
    record = _summary_dict(summary, code)
    if recorder is not None:  # not one of --sinks: its cost is reported under its own name
        record["report"] = record["sinks"].pop(type(recorder).__name__, None)
    (out / "summary.json").write_text(json.dumps(record, indent=2))
    if recorder is not None:
        console.print(f"report: {write_report(out, recorder, record)}")
    for sid, why in summary.source_errors.items():
        console.print(f"[red]source {escape(sid)} failed:[/red] {escape(why)}", soft_wrap=True)
    if code:
        raise typer.Exit(code)


def _with_stop_policy(cfg: Any, attempts: Optional[int], max_backoff: Optional[float], source_timeout: Optional[float],
                      drain_timeout: Optional[float]) -> Any:
    """``cfg`` with the live sources' reconnect policy and the drain timeout: the command line's
    values over the YAML's over :data:`RUN_RECONNECT`; validated here (a ValueError names the
    option)."""
    from dataclasses import asdict, replace

    from sensorium.pipeline.io.sources import ReconnectPolicy

    values = asdict(cfg.reconnect) if cfg.reconnect is not None else {**asdict(ReconnectPolicy()), **RUN_RECONNECT}
    if attempts is not None:
        if attempts < 0:
            raise ValueError(f"--reconnect-attempts: expected a count >= 0, got {attempts}")
        values["max_attempts"] = attempts
    if max_backoff is not None:
        if max_backoff < 0:
            raise ValueError(f"--reconnect-max-backoff: expected seconds >= 0, got {max_backoff:g}")
        values["max_delay_s"] = max_backoff
        values["initial_delay_s"] = min(values["initial_delay_s"], max_backoff)
    if source_timeout is not None:
        if source_timeout < 0:
            raise ValueError(f"--source-timeout: expected seconds >= 0 (0: never give up), got {source_timeout:g}")
        values["give_up_after_s"] = source_timeout or None
    if drain_timeout is not None and drain_timeout < 0:
        raise ValueError(f"--drain-timeout: expected seconds >= 0, got {drain_timeout:g}")
    return replace(cfg, reconnect=ReconnectPolicy(**values), drain_timeout_s=cfg.drain_timeout_s if drain_timeout is None else drain_timeout)


def _pipeline_config(config: Optional[Path], stages: Optional[str], sets: List[str], *, ray_address: Optional[str],
                     metrics_port: Optional[int], max_in_flight: int, drop_policy: Optional[str]) -> Any:
    """The run's :class:`PipelineConfig`: the YAML file's, or one spec per ``--stages`` name (default:
    every available stage), with the command-line values and ``--set`` options merged in. Every
    stage's config object is built (typed, validated) on the way: a ConfigError names the option."""
    from dataclasses import replace

    from sensorium.pipeline.stream.config import PipelineConfig, StageSpec, merge_options

    options = parse_sets(sets)
    if config is not None:
        cfg = PipelineConfig.from_file(config)
        names = [s.name for s in cfg.stages]
    else:
        names = [n.strip() for n in stages.split(",") if n.strip()] if stages else _default_stage_names()
    for stage_name in options:
        if stage_name not in names:
            raise typer.BadParameter(f"--set names stage {stage_name!r}, which is not in this run ({', '.join(names)})")
    if config is None:  # the --set options go in as the specs are made: the chain is checked with them (track.of=pose)
        # resources are left to the engine's planner: one CPU per actor, or a share of a smaller machine
        cfg = PipelineConfig(stages=tuple(StageSpec(n, options=options.get(n, {})) for n in names))
    elif options:  # all stages at once, so no half-applied chain is checked
        cfg = replace(cfg, stages=tuple(replace(s, options=merge_options(s.options, options[s.name])) if s.name in options else s for s in cfg.stages))
    cfg = replace(cfg, ray_address=ray_address or cfg.ray_address, metrics_port=metrics_port if metrics_port is not None else cfg.metrics_port,
                  max_in_flight=max_in_flight, drop_policy=drop_policy or cfg.drop_policy)
    return cfg


def _fed_stages(cfg: Any, srcs: list[Any]) -> Any:
    """``cfg`` without the stages that need more than these sources give (depth on a mono
    video), saying so on stderr as for stages that are not available."""
    from dataclasses import replace

    kept = []
    for spec in cfg.stages:
        why = unfed_stage(spec.name, srcs)
        if why:
            console.print(f"[yellow]stage {spec.name} skipped: {escape(why)}[/yellow]", soft_wrap=True)
        else:
            kept.append(spec)
    return replace(cfg, stages=tuple(kept)) if kept else cfg


def _sink_names(sinks: Optional[str], cfg: Any) -> list[str]:
    """``--sinks`` as given, else jsonl, npz and video, plus ply when a stage is asked for point
    clouds (a ply sink with nothing to write only adds a folder of nothing and an Open3D import)."""
    if sinks is not None:
        return [s.strip() for s in sinks.split(",") if s.strip()]
    clouds = any(getattr(s.config, "point_cloud", False) for s in cfg.stages)
    return ["jsonl", "npz", "video", *(["ply"] if clouds else [])]


def _default_stage_names() -> list[str]:
    """Every available stage but ``zones`` (it runs with --zone/--line), the ordered ones (tracking)
    last, as the engine needs them, whatever order plugins registered in."""
    from sensorium.stages.base import get_stage_class

    names = [n for n in _available_stage_names() if n != "zones"]
    return sorted(names, key=lambda n: get_stage_class(n).ordered)


def _available_stage_names() -> list[str]:
    """The stages that can run here, saying on stderr why each other one cannot."""
    from sensorium.stages.base import available_stages

    avail = available_stages()
    for n, (ok, why) in avail.items():
        if not ok:
            console.print(f"[yellow]stage {n} not available: {why}[/yellow]")
    return [n for n, (ok, _why) in avail.items() if ok]


def _open_sources(source: List[str], left: Optional[str], right: Optional[str], side_by_side: Optional[str], calib: Optional[Path],
                  *, reconnect: Any = None) -> list[Any]:
    """The run's sources: a stereo pair, a side-by-side source, each ``--source``; the bundled
    sample when none. Live ones (cameras, streams) get the ``reconnect`` policy."""
    from sensorium.pipeline.io.sources import is_live_spec, open_source, open_stereo, source_name, source_names

    def live(*specs: Any) -> dict[str, Any]:
        return {"reconnect": reconnect} if reconnect is not None and all(is_live_spec(s) for s in specs) else {}

    srcs = []
    # readable ids for every source, unique among them all: "L+R" for a pair, the stem of a side-by-side file
    ids, specs = source_names([*([side_by_side] if side_by_side else []), *source])
    if left or right:
        if not (left and right):
            raise typer.BadParameter("--left and --right come together")
        srcs.append(open_stereo(left, right, calib=calib, source_id=f"{source_name(left)}+{source_name(right)}", **live(left, right)))
    if side_by_side:
        sid, ids, specs = ids[0], ids[1:], specs[1:]
        srcs.append(open_stereo(side_by_side, None, calib=calib, side_by_side=True, source_id=sid, **live(side_by_side)))
    for sid, spec in zip(ids, specs):
        # --calib belongs to stereo input; a stereo folder (left/ + right/) takes it too
        options = {"calib": calib} if calib else live(spec)
        srcs.append(open_source(spec, source_id=sid, **options))
    if not srcs:  # the bundled sample: its stereo pairs and its RGB-D frames as two sources
        srcs += [open_source("sample"), open_source("sample:rgbd")]
    return srcs


def _run_with_progress(cfg: Any, srcs: list[Any], sink_objs: list[Any], max_frames: Optional[int]) -> Any:
    """Run the pipeline with a progress bar (frames and fps) on stderr; the run's summary.

    SIGINT and SIGTERM become a stop request from here on (a stop during set-up ends the run
    before its first frame, still with a summary); the handlers are taken back once Ray is up
    (``ray.init`` sets its own SIGTERM handler, which exits with a stack dump). The local Ray
    this run started is shut down with the pipeline."""
    import time

    from sensorium.pipeline.stream.engine import Pipeline
    from sensorium.pipeline.stream.stop import StopRequest, stop_on_signals

    stop = StopRequest(cfg.drain_timeout_s)

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

        with stop_on_signals(stop) as handlers, Pipeline(cfg, shutdown_ray=True, on_ray_ready=handlers.install) as pipeline:
            return pipeline.run(srcs, sink_objs, on_frame=on_frame, max_frames=max_frames, stop=stop)


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


def _summary_dict(summary: Any, exit_code: int) -> dict[str, Any]:
    """summary.json: per-source counts, states, reconnects and failures, per-stage latency, how
    the run stopped and the exit code it ends with."""
    from dataclasses import asdict

    return {
        "frames": summary.frames, "errors": summary.errors, "dropped": summary.dropped, "source_states": summary.source_states,
        "reconnects": summary.reconnects, "source_errors": summary.source_errors,
        "wall_s": summary.wall_s, "fps": summary.fps, "stages": summary.stages, "max_in_flight_seen": summary.max_in_flight_seen,
        "sinks": summary.sinks, "stop": asdict(summary.stop), "zones": {sid: c.totals() for sid, c in summary.zones.items()},
        "exit_code": exit_code,
    }


def _print_summary(summary: Any) -> None:
    out = Console()
    t = Table(title="sources")
    for col in ("source", "frames", "errors", "dropped", "reconnects", "state"):
        t.add_column(col, justify="left" if col in ("source", "state") else "right")
    for sid, state in summary.source_states.items():
        t.add_row(sid, str(summary.frames.get(sid, 0)), str(summary.errors.get(sid, 0)), str(summary.dropped.get(sid, 0)),
                  str(summary.reconnects.get(sid, "-")), state)
    out.print(t)
    stop = summary.stop
    if stop.requested:
        out.print(f"stopped on {stop.reason}: {stop.finished_in_flight} of {stop.in_flight_at_stop} frame(s) in flight finished, "
                  f"{stop.dropped_in_flight} dropped{' (stopped again)' if stop.forced else ''}, "
                  f"{stop.discarded_queued} read but not admitted discarded; drain {stop.drain_s:.2f} s")
    if summary.zones:
        out.print(_zones_table(summary.zones))
    s = Table(title=f"stages — {summary.total_frames} frames in {summary.wall_s:.2f} s = {summary.fps:.2f} fps")
    for col in ("stage", "p50 ms", "p95 ms", "mean batch", "wait+hop ms", "calls"):
        s.add_column(col, justify="left" if col == "stage" else "right")
    for name, st in summary.stages.items():
        s.add_row(name, f"{st['p50_ms']:.1f}", f"{st['p95_ms']:.1f}", f"{st['mean_batch']:.1f}", f"{st['overhead_ms']:.1f}", str(st["calls"]))
    out.print(s)


def _zones_table(zones: dict[str, Any]) -> Table:
    """Each source's zones (inside now, entered, left) and lines (in, out) at the end of the run."""
    t = Table(title="zones and lines")
    for col in ("source", "zone / line", "inside", "entered / in", "left / out"):
        t.add_column(col, justify="left" if col in ("source", "zone / line") else "right")
    for sid, counts in zones.items():
        for z in counts.zones:
            t.add_row(sid, f"zone {z.name}", str(len(z.inside)), str(z.entered), str(z.left))
        for ln in counts.lines:
            t.add_row(sid, f"line {ln.name}", "-", str(ln.in_count), str(ln.out_count))
    return t
