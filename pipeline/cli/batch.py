"""``sensorium batch`` (Ray Data jobs over image collections) and ``sensorium search``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer
import yaml
from rich.markup import escape

from sensorium.pipeline.cli.checks import check_stages
from sensorium.pipeline.cli.common import console, fail, parse_sets

if TYPE_CHECKING:
    from sensorium.pipeline.batch.frames import Feed

app = typer.Typer(help="Batch jobs over image collections and search over their index.")


@app.command("batch")
def batch(
    input: str = typer.Option(..., "--input", "-i", help="Folder (recursive), glob, .txt list of paths or URIs, one file, or an "
                              "object-store URI: s3://bucket/photos/**/*.jpg, gs://bucket/prefix/."),
    stages: str = typer.Option(..., "--stages", help="Comma-separated stages, e.g. detect,face,embed."),
    output: str = typer.Option(..., "--output", "-o", help="Local output folder: parts/*.parquet, failures.jsonl, index/; one job at a time "
                        "writes into it (a second is refused while the first runs)."),
    set_: List[str] = typer.Option([], "--set", help="Stage option STAGE.OPTION=VALUE (repeatable)."),
    batch_size: int = typer.Option(16, help="Images per stage call."),
    actors: int = typer.Option(1, help="Actors per stage (each loads the model once)."),
    num_gpus: Optional[float] = typer.Option(None, help="GPUs per actor; default: on a cluster with GPUs, stages whose providers "
                                             "name cuda/tensorrt share them (at most 1 per actor), others 0."),
    num_cpus: Optional[float] = typer.Option(None, help="CPUs per actor; default: the cluster's CPUs shared among the actors, at most 1 each."),
    task_images: int = typer.Option(64, help="Images per Ray task of the first stage (at least --batch-size): fewer, larger tasks cost Ray less."),
    part_rows: int = typer.Option(1000, help="Rows per Parquet part (a part is also written every 10 s); a killed job redoes at most these."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Existing Ray cluster; default: a local Ray."),
    storage_option: List[str] = typer.Option([], "--storage-option", help="Object-store option KEY=VALUE for pyarrow's "
                                             "S3FileSystem/GcsFileSystem, e.g. endpoint_override=http://127.0.0.1:9000, "
                                             "region=eu-west-1, anonymous=true (repeatable; default: the AWS_*/GCS environment)."),
    allow_download: bool = typer.Option(False, "--allow-download", help="Fetch registered weights a stage names that are not here yet (verified by sha256) before the job starts; without it a missing one is an error naming the file, its URL and the cache path."),
    rerun: bool = typer.Option(False, "--rerun", help="Also record the job's results (and local images) in OUT/run.rrd for Rerun's viewer, item index as the frame timeline."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write OUT/report.html at the end: totals, throughput, failures, score histograms, contact sheet."),
) -> None:
    """Run stages over an image collection on Ray Data; rerun to resume after an interruption.
    An image that cannot be read is a line in failures.jsonl (and not tried again); exit code 0
    unless the job itself could not run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from sensorium.stages.base import build_config, check_chain

    names = [n.strip() for n in stages.split(",") if n.strip()]
    options = parse_sets(set_)
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise typer.BadParameter(f"--set names stage(s) {unknown} not in --stages", param_hint="--set")
    try:  # every stage's options typed and validated, and each stage able to run in a batch, before Ray starts
        configs = [(n, build_config(n, options.get(n, {}))) for n in names]
        check_chain(configs)
        check_stages(configs, command="batch", allow_download=allow_download)
        _check_input(input)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if "detect" in names:  # its actors log to files only in a batch job: the note is said here, once
        from sensorium.stages.detect.stage import shipped_weights_note

        note = shipped_weights_note(dict(configs)["detect"].weights)
        if note:
            console.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)
    from sensorium.pipeline.batch.job import BatchStage, run_batch
    from sensorium.pipeline.cluster import RayUnavailable

    storage_options = {}
    for opt in storage_option:
        key, eq, value = opt.partition("=")
        if not eq or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {opt!r}", param_hint="--storage-option")
        storage_options[key] = yaml.safe_load(value)  # true/false, numbers, strings as in a YAML config
    feed = _feed(output, rerun=rerun, report=report)
    specs = [BatchStage(n, options.get(n, {}), actors=actors, batch_size=batch_size, num_cpus=num_cpus, num_gpus=num_gpus) for n in names]
    with Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("batch", total=None)
        try:
            summary = run_batch(input, specs, output, ray_address=ray_address, storage_options=storage_options, part_rows=part_rows, task_images=task_images,
                                on_progress=lambda done, total: progress.update(task, completed=done, total=total), on_rows=feed)
        except (ValueError, OSError, RayUnavailable) as exc:  # OSError: a bucket that cannot be listed
            raise fail(str(exc)) from None
        finally:
            closed = feed.close() if feed is not None else {}
    _write_report(output, feed, {"images": summary.total, "already_done": summary.skipped, "written": summary.written,
                                  "failed": summary.failed, "seconds": round(summary.seconds, 1), "sinks": closed})
    typer.echo(json.dumps({"images": summary.total, "already_done": summary.skipped, "written": summary.written,
                           "failed": summary.failed, "seconds": round(summary.seconds, 1), "output": str(output)}))


def _feed(output: str, *, rerun: bool, report: bool) -> "Feed | None":
    """What sees the job's rows as frames: the report's recorder, the Rerun sink (built at the
    first batch, inside the job's lock); None when neither is asked."""
    from sensorium.pipeline.batch.frames import Feed, RowFrames, frame_image
    from sensorium.pipeline.io.sinks import build_sinks
    from sensorium.pipeline.report import RunRecorder

    if not (rerun or report):
        return None
    recorder = [RunRecorder(image_loader=frame_image)] if report else []
    return Feed(RowFrames(with_images=rerun), recorder, (lambda: build_sinks(["rerun"], output)) if rerun else None)


def _write_report(output: str, feed: "Feed | None", summary: dict) -> None:
    from sensorium.pipeline.report import RunRecorder, write_report

    for recorder in (s for s in (feed.sinks if feed is not None else []) if isinstance(s, RunRecorder)):
        console.print(f"report: {write_report(output, recorder, summary, title='sensorium batch')}")


def _check_input(spec: str) -> None:
    """A local ``--input`` that is neither a glob nor there is a typo, not a job of one failed
    image: refused before a job folder is written or Ray starts."""
    from sensorium.pipeline.batch.storage import is_remote

    if not is_remote(spec) and not any(c in spec for c in "*?[") and not Path(spec).exists():
        raise ValueError(f"--input {spec}: no such file or folder")


@app.command("search")
def search(
    query: Optional[str] = typer.Argument(None, help="Text to search for."),
    index: Path = typer.Option(..., "--index", help="A batch job's output folder (with index/ and job.json)."),
    image: Optional[Path] = typer.Option(None, "--image", help="Search by an image instead of text."),
    k: int = typer.Option(10, "-k", help="How many results."),
    where: List[str] = typer.Option([], "--where", help="Filter KEY=VALUE on kind, label or path (repeatable)."),
) -> None:
    """Nearest images (and detection crops) to a text or an image, as JSON lines."""
    from sensorium.stages.base import build_stage

    from sensorium.pipeline.io.sources import read_image
    from sensorium.pipeline.batch.vector_index import VectorIndex

    if (query is None) == (image is None):
        raise typer.BadParameter("give a text query or --image, not both")
    job = index / "job.json"
    if not job.is_file() or not (index / "index").is_dir():
        console.print(f"[red]error:[/red] {index} is not a batch output with an embed index (job.json, index/)")
        raise typer.Exit(2)
    spec = next((s for s in json.loads(job.read_text())["stages"] if s["name"] == "embed"), None)
    if spec is None:
        console.print(f"[red]error:[/red] the job in {index} did not run the embed stage")
        raise typer.Exit(2)
    filters = {}
    for w in where:
        key, eq, value = w.partition("=")
        if not eq:
            raise typer.BadParameter(f"expected KEY=VALUE, got {w!r}", param_hint="--where")
        filters[key] = value
    stage = build_stage("embed", spec["options"])
    try:
        vec = stage.embed_text([query])[0] if query is not None else stage.embed_images([read_image(image)])[0]
        hits = VectorIndex(index / "index").search(vec, k, where=filters or None)
    except (ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for h in hits:
        typer.echo(json.dumps({"path": h.path, "score": round(h.score, 4), "kind": h.kind, "label": h.label, "box": h.box}))
