"""Batch jobs over image collections on Ray Data, resumable, with a failure report.

``run_batch(inputs, stages, output)``: each stage runs in ``map_batches`` over a pool of actors
that build the stage once (the same stage classes as the streaming pipeline); the first
stage's actors read and decode their own batches, so an image is decoded where it is first
used. The driver streams the results out as they come (``iter_batches``: bounded memory) into

- ``OUT/parts/part-*.parquet``: one row per good image (path, width, height, each stage's
  result as JSON, ``embedding``: the image vector when a stage gives one, such as embed), a part per
  ``part_rows`` rows or ``part_seconds``, each written to a temporary name and renamed, so a
  part on disk is complete;
- ``OUT/failures.jsonl``: one line per failed image (path, stage, reason), flushed and
  fsync'ed per batch;
- ``OUT/job.json``: the stages and options (``sensorium search`` rebuilds the embed stage
  from it); ``OUT/index/``: the vector index, when a stage indexes vectors (embed does).

Stages are asked, not named: their batch options (:meth:`Stage.batch_defaults`), resources
(:meth:`Stage.resources`), index rows and image vector come from the stage class.

Inputs are local paths or object-store URIs (``s3://bucket/photos/**/*.jpg``, ``gs://...``),
listed and read through ``pyarrow.fs`` (``storage.py``: credentials and endpoint from the
standard environment or ``storage_options``); a row's ``path`` is then the object's URI. The
output is a local folder: parts are renamed into place and the failure report is appended to,
which object stores cannot do.

Resumption: a path is done when it is in a part or in the failure report; a rerun processes
only the others, so an interrupted job (driver killed mid-run) completes with every image
exactly once. Paths are compared in one spelling (``paths.py``: absolute and resolved, object
URIs normalised), so a rerun from another working directory or with ``./`` redoes nothing. A
truncated last line of the failure report (a kill during the write) is dropped and that image
is processed again. An image that cannot be decoded (corrupt, cut, a decompression bomb) is a
line in the failure report like any other failure, so a rerun does not try it again.

One driver at a time per output folder (``lock.py``): a second is refused at start, naming
the process that holds it.
"""

from __future__ import annotations

import glob as globlib
import json
import logging
import os
import pickle
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from sensorium.pipeline.cluster import ActorRequest, init_ray, plan_resources
from sensorium.pipeline.runner import Delta, rebuild, run_stage
from sensorium.stages.base import Stage, build_config, get_stage_class, refuse_ordered
from sensorium.stages.config import config_options
from sensorium.stages.images import IMAGE_SUFFIXES
from sensorium.pipeline.batch.lock import OutputLock
from sensorium.pipeline.batch.paths import normalise_path
from sensorium.pipeline.batch.storage import Storage, is_remote

log = logging.getLogger(__name__)

PARTS = "parts"
FAILURES = "failures.jsonl"
JOB = "job.json"


@dataclass(frozen=True)
class BatchStage:
    """One stage of a batch job: its options, actors in its pool, images per call, resources.
    ``num_cpus`` None: the cluster's CPUs shared among the actors that give none, at most 1
    each (a 2-core machine runs three one-actor stages at 0.67 CPU each instead of leaving one
    pending forever). ``num_gpus`` None: on a cluster with GPUs, the stages that want one
    (:meth:`Stage.resources`; by default a stage set to run on CUDA or TensorRT) share them,
    at most 1 per actor; 0 elsewhere."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    actors: int = 1
    batch_size: int = 16
    num_cpus: float | None = None
    num_gpus: float | None = None


@dataclass
class BatchSummary:
    total: int
    skipped: int
    written: int
    failed: int
    seconds: float


def list_inputs(spec: str | Path | Sequence[str], storage: Storage | None = None) -> list[str]:
    """A folder (recursive), a glob, a file of paths or URIs (``.txt``, one per line), a list, or
    an object-store URI (a glob, a prefix or one object; listed with ``storage``) → sorted unique
    paths, normalised (:func:`~sensorium.pipeline.batch.paths.normalise_path`: ``a.jpg`` and
    ``./a.jpg`` are one). Missing paths stay in the list: they fail, by name, in the job."""
    if isinstance(spec, (list, tuple)):
        items = [str(s) for s in spec]
    else:
        s = str(spec)
        p = Path(s)
        if is_remote(s):
            items = (storage or Storage()).list(s, IMAGE_SUFFIXES)
        elif p.is_dir():
            items = [str(f) for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES]
        elif p.suffix == ".txt" and p.is_file():
            items = [line.strip() for line in p.read_text().splitlines() if line.strip()]
        elif any(ch in s for ch in "*?["):
            items = [f for f in globlib.glob(s, recursive=True) if Path(f).suffix.lower() in IMAGE_SUFFIXES]
        else:
            items = [s]
    return sorted({normalise_path(i) for i in items})


def done_paths(output: Path) -> tuple[set[str], set[str]]:
    """(paths with a row in a complete part, paths in the failure report), normalised as
    :func:`list_inputs` gives them (rows of an older version may not be); repairs a failure
    report whose last line was cut off."""
    import pyarrow.parquet as pq

    good: set[str] = set()
    for part in sorted((output / PARTS).glob("part-*.parquet")):
        good.update(map(normalise_path, pq.read_table(part, columns=["path"]).column("path").to_pylist()))
    bad: set[str] = set()
    fpath = output / FAILURES
    if fpath.is_file():
        lines, keep = fpath.read_text().splitlines(keepends=True), []
        for line in lines:
            try:
                bad.add(normalise_path(json.loads(line)["path"]))
                keep.append(line if line.endswith("\n") else line + "\n")
            except (json.JSONDecodeError, KeyError):
                log.warning("%s: dropping a cut-off line (its image is processed again)", fpath)
        if keep != lines:
            tmp = fpath.with_suffix(".tmp")
            tmp.write_text("".join(keep))
            os.replace(tmp, fpath)
    return good, bad


class _Loader:
    """Paths or URIs → decoded RGB images, or the reason they cannot be read. A few threads per
    batch hide an object store's latency per request (pyarrow's reads and OpenCV's decoding
    release the GIL)."""

    def __init__(self, storage: Storage, threads: int = 4) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.storage = storage
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="load")

    def _load(self, path: str) -> tuple[np.ndarray, str]:
        from sensorium.pipeline.io.sources import decode_image, read_image

        try:
            image = decode_image(self.storage.read_bytes(path)) if is_remote(path) else read_image(path)
            return image, ""
        except (OSError, ValueError) as exc:
            return np.zeros((1, 1, 3), np.uint8), f"source: {exc}"

    def __call__(self, paths: Sequence[str]) -> tuple[list[np.ndarray], list[str]]:
        loaded = list(self.pool.map(self._load, [str(p) for p in paths]))
        return [im for im, _ in loaded], [err for _, err in loaded]


def _objects(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


class _StageActor:
    """Ray Data actor UDF: builds the stage once, runs it on each batch with the one stage runner.

    The first stage (``storage`` given) reads and decodes its batch itself, so images are used
    where they are decoded: none crosses the object store before the first stage and no decode
    pool holds CPUs (on 2 cores a separate decode actor kept the stage actors pending until it
    had decoded every image, all of them then waiting in the object store). The last stage
    (``last``) drops the images: the driver receives only what it writes. A Ray Data batch
    may be larger than the stage's: it is loaded and run ``chunk`` images at a time, so a
    first-and-last stage holds at most ``chunk`` decoded images.

    Earlier stages' results travel in the ``deltas`` column as pickled :class:`Delta` lists
    (numpy arrays pickle as raw buffers): no stage parses JSON, and only the last one writes
    it, once per row, for the Parquet writer.

    ``classes``: the job's stage classes as the driver resolved them (name -> class), so a
    worker runs and asks a stage it cannot look up by name itself (one registered in the
    driver's process only: a test's, a notebook's); a name not in it is looked up here."""

    def __init__(self, name: str, config: Any, storage: Storage | None = None, last: bool = True, chunk: int = 16,
                 classes: dict[str, type[Stage]] | None = None) -> None:
        self.name, self.last, self.chunk = name, last, chunk
        self.classes = dict(classes or {})
        self.loader = _Loader(storage) if storage is not None else None
        self.stage = self._class(name)(config)  # the frozen config built on the driver
        self.stage.setup()

    def _class(self, name: str) -> type[Stage]:
        return self.classes[name] if name in self.classes else get_stage_class(name)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["path"])
        outs = [self._run({k: v[i:i + self.chunk] for k, v in batch.items()}) for i in range(0, n, self.chunk)]
        return outs[0] if len(outs) == 1 else {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

    def _run(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from sensorium.stages.frame import Frame

        if self.loader is not None:
            images, errors = self.loader(batch["path"])
            earlier: list[list[Delta]] = [[] for _ in images]
            sizes = np.array([im.shape[:2] if not err else (0, 0) for im, err in zip(images, errors)], np.int32).reshape(-1, 2)
            height, width = sizes[:, 0], sizes[:, 1]
        else:
            images, errors = list(batch["image"]), list(batch["error"])
            earlier = [pickle.loads(d) for d in batch["deltas"]]
            height, width = batch["height"], batch["width"]
        idx = [i for i, err in enumerate(errors) if not err]
        frames = rebuild([Frame(str(batch["path"][i]), i, image=images[i]) for i in idx], [earlier[i] for i in idx])
        deltas, _status = run_stage(self.stage, frames)
        for i, delta in zip(idx, deltas):
            if delta.error is not None:
                errors[i] = f"{self.name}: {delta.error}"
            else:
                earlier[i] = [*earlier[i], Delta(self.name, delta.result, seconds=delta.seconds)]
        out = {"path": batch["path"], "width": width, "height": height, "error": np.array(errors, dtype=object)}
        if self.last:
            out["results"], out["embedding"], out["timings"] = _row_columns(earlier, errors, self._class)
        else:
            out["deltas"] = _objects([pickle.dumps(d, pickle.HIGHEST_PROTOCOL) for d in earlier])
            out["image"] = _objects(images)
        return out


def _row_columns(deltas: list[list[Delta]], errors: list[str],
                 stage_class: Callable[[str], type[Stage]] = get_stage_class) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last stage's actor turns the results into what the Parquet writer stores, in
    parallel and once: each row's results as JSON, and the first image vector a stage gives
    (:meth:`Stage.image_vector`) as float32 bytes (empty: none); and, for the run report, each
    row's seconds per stage as JSON."""
    results, vectors, timings = [], [], []
    for ds, err in zip(deltas, errors):
        vector = b""
        for d in ([] if err else ds):
            v = stage_class(d.stage).image_vector(d.result)
            if v is not None:
                vector = np.asarray(v, np.float32).tobytes()
                break
        results.append("" if err else json.dumps({d.stage: d.result.to_dict() for d in ds}))
        vectors.append(vector)
        timings.append(json.dumps({d.stage: d.seconds for d in ds if d.seconds is not None}))
    return _objects(results), _objects(vectors), _objects(timings)


def _rows(batch: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Parquet rows and failure-report lines of a finished batch. A row's ``timings`` (stage ->
    seconds) go to the run report, not into the parts: they depend on the machine and its load,
    the results only on the image."""
    good, bad = [], []
    for p, w, h, err, res, vec, secs in zip(batch["path"], batch["width"], batch["height"], batch["error"], batch["results"],
                                            batch["embedding"], batch["timings"]):
        if err:
            stage, _, reason = str(err).partition(": ")
            bad.append({"path": str(p), "stage": stage, "reason": reason})
            continue
        vector = np.frombuffer(vec, np.float32).tolist() if len(vec) else None
        good.append({"path": str(p), "width": int(w), "height": int(h), "results": str(res), "embedding": vector,
                     "timings": json.loads(secs) if secs else {}})
    return good, bad


def _write_part(output: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = output / PARTS
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = folder / f".{name}.tmp"
    schema = pa.schema([("path", pa.string()), ("width", pa.int32()), ("height", pa.int32()), ("results", pa.string()),
                        ("embedding", pa.list_(pa.float32()))])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)  # the schema's columns only: not ``timings``
    os.replace(tmp, folder / name)  # a part on disk is always complete


def _append_failures(output: Path, rows: list[dict[str, Any]]) -> None:
    with open(output / FAILURES, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.flush()
        os.fsync(f.fileno())


def plan_actors(stages: Sequence[BatchStage], cluster: dict[str, float]) -> list[tuple[float, float]]:
    """(num_cpus, num_gpus) per actor of each stage, by the one planner
    (:func:`~sensorium.pipeline.cluster.plan_resources`): what the job gives, else what the
    stage asks (:meth:`Stage.resources`), else a share. Raises ValueError when the actors
    cannot all hold their resources at once (they would wait forever)."""
    requests = []
    for s in stages:
        asked = get_stage_class(s.name).resources(build_config(s.name, s.options))
        requests.append(ActorRequest(s.name, s.actors, s.num_cpus if s.num_cpus is not None else asked.num_cpus,
                                     s.num_gpus if s.num_gpus is not None else asked.num_gpus, asked.wants_gpu))
    return plan_resources(requests, cluster, fix="actors")


def _record_job(output: Path, stages: Sequence[BatchStage]) -> None:
    """Write ``job.json``, or refuse an output folder that holds a job with other stages/options
    (what the results are depends on those, not on actors or batch sizes)."""
    if (output / JOB).is_file() and _has_results(output):
        previous = json.loads((output / JOB).read_text())
        if [(p["name"], p["options"]) for p in previous["stages"]] != [(s.name, s.options) for s in stages]:
            raise ValueError(f"{output} holds a job with other stages/options ({previous['stages']}); use another --output")
    else:  # a job.json beside no results is a start that failed: it does not bind the folder
        (output / JOB).write_text(json.dumps({"stages": [s.__dict__ for s in stages]}, indent=2))


def _has_results(output: Path) -> bool:
    """Whether a job wrote anything into ``output``: a Parquet part or a failure line."""
    failures = output / FAILURES
    return any((output / PARTS).glob("part-*.parquet")) or (failures.is_file() and failures.stat().st_size > 0)


def _dataset(todo: list[str], stages: Sequence[BatchStage], storage: Storage, task_images: int) -> Any:
    """The Ray Data chain: the paths, then one ``map_batches`` actor pool per stage."""
    import ray
    from ray.data import ActorPoolStrategy, DataContext

    ctx = DataContext.get_current()  # on_progress reports progress; Ray Data's own bars and logs would repeat it
    ctx.enable_progress_bars, ctx.print_on_execution_start = False, False
    plan = plan_actors(stages, ray.cluster_resources())
    first = max(stages[0].batch_size, task_images)
    ds = ray.data.from_items([{"path": p} for p in todo], override_num_blocks=max(1, -(-len(todo) // first)))
    classes = {s.name: get_stage_class(s.name) for s in stages}
    for k, (s, (num_cpus, num_gpus)) in enumerate(zip(stages, plan)):
        args = (s.name, build_config(s.name, s.options), storage if k == 0 else None, k == len(stages) - 1, s.batch_size, classes)
        ds = ds.map_batches(_StageActor, fn_constructor_args=args, batch_size=first if k == 0 else s.batch_size, batch_format="numpy",
                            compute=ActorPoolStrategy(size=s.actors), num_cpus=num_cpus, num_gpus=num_gpus)
    return ds


def run_batch(inputs: str | Path | Sequence[str], stages: Sequence[BatchStage], output: str | Path, *, ray_address: str | None = None,
              on_progress: Callable[[int, int], None] | None = None, build_index: bool = True, max_items: int | None = None,
              storage_options: dict[str, Any] | None = None, part_rows: int = 1000, part_seconds: float = 10.0,
              task_images: int = 64, on_rows: Callable[[list[dict[str, Any]], list[dict[str, Any]]], None] | None = None) -> BatchSummary:
    """Run ``stages`` over ``inputs`` into ``output`` (see the module docstring); resumes.

    ``storage_options``: keyword arguments of the object store's pyarrow filesystem
    (``endpoint_override``, ``region``, ``anonymous``, ...) over what the environment says.
    A part is written once ``part_rows`` rows or ``part_seconds`` have gathered: fewer, larger
    files, and a killed job redoes at most that much. ``task_images``: images per Ray Data task
    of the first stage (at least its batch size; its actor loads and runs them a stage batch at
    a time): Ray costs each task tens of ms on a 2-core machine, which small tasks pay again
    and again while the actors wait (benchmarks.md, batch jobs). ``on_rows(rows, failures)``:
    called in the driver with each finished batch's Parquet rows and failure lines, as they
    come (the run report and the Rerun recording of ``sensorium batch`` are fed from it)."""
    if not stages:
        raise ValueError("a batch job needs at least one stage")
    classes = {s.name: get_stage_class(s.name) for s in stages}
    refuse_ordered(classes, "a batch job's images are independent and run in parallel, in no order; run it with "
                   "`sensorium run` over a video or camera")
    # options as the typed config has them (``"0.3"`` and ``0.3`` are one job), batch defaults under the user's
    stages = [replace(s, options=config_options(build_config(s.name, {**classes[s.name].batch_defaults(), **s.options}))) for s in stages]
    if is_remote(str(output)):
        raise ValueError(f"--output must be a local folder, got {output}: parts are renamed into place and "
                         "failures.jsonl appended to, which object stores cannot do; copy the folder up afterwards")
    storage = Storage(storage_options)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    with OutputLock(output):  # before anything is read or written: a second driver is refused here
        _record_job(output, stages)
        paths = list_inputs(inputs, storage)
        good, bad = done_paths(output)
        todo = [p for p in paths if p not in good and p not in bad]
        if max_items is not None:
            todo = todo[:max_items]
        start = time.time()
        written = failed = 0
        if todo:
            init_ray(ray_address, log_to_driver=False)
            written, failed = _write_results(_dataset(todo, stages, storage, task_images), output, len(todo), part_rows, part_seconds, on_progress,
                                             on_rows)
        if build_index and any(_indexes(cls) for cls in classes.values()):
            rebuild_index(output)
    return BatchSummary(len(paths), len(paths) - len(todo), written, failed, time.time() - start)


def _write_results(ds: Any, output: Path, total: int, part_rows: int, part_seconds: float,
                   on_progress: Callable[[int, int], None] | None,
                   on_rows: Callable[[list[dict[str, Any]], list[dict[str, Any]]], None] | None = None) -> tuple[int, int]:
    """Stream the dataset's batches into parts and the failure report; (rows written, failures)."""
    written = failed = 0
    pending: list[dict[str, Any]] = []
    flushed = time.monotonic()
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        rows, fails = _rows(batch)
        if on_rows is not None:
            on_rows(rows, fails)
        pending += rows
        if fails:
            _append_failures(output, fails)
        if pending and (len(pending) >= part_rows or time.monotonic() - flushed >= part_seconds):
            _write_part(output, pending)
            written, pending, flushed = written + len(pending), [], time.monotonic()
        failed += len(fails)
        if on_progress is not None:
            on_progress(written + len(pending) + failed, total)
    if pending:
        _write_part(output, pending)
        written += len(pending)
    return written, failed


def iter_rows(output: str | Path) -> Iterable[dict[str, Any]]:
    import pyarrow.parquet as pq

    for part in sorted((Path(output) / PARTS).glob("part-*.parquet")):
        yield from pq.read_table(part).to_pylist()


def _indexes(cls: type[Stage]) -> bool:
    """Whether the stage puts vectors in the index (overrides :meth:`Stage.index_rows`)."""
    return cls.index_rows.__func__ is not Stage.index_rows.__func__


def rebuild_index(output: str | Path) -> int:
    """(Re)build ``OUT/index`` from every part's results of the stages that index vectors
    (:meth:`Stage.index_rows`; for embed: image vectors and detection crops)."""
    import shutil

    from sensorium.stages.base import get_stage_class
    from sensorium.stages.results import result_from_dict

    from sensorium.pipeline.batch.vector_index import VectorIndex

    folder = Path(output) / "index"
    tmp = Path(output) / f".index.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    names = [s["name"] for s in json.loads((Path(output) / JOB).read_text())["stages"]]
    classes = {n: get_stage_class(n) for n in names}
    idx = VectorIndex(tmp)
    n = 0
    for row in iter_rows(output):
        res = json.loads(row["results"])
        for name, cls in classes.items():
            items = cls.index_rows(result_from_dict(res[name])) if name in res and _indexes(cls) else []
            if items:
                idx.add(np.stack([r.vector for r in items]), [row["path"]] * len(items), model=items[0].model,
                        kinds=[r.kind for r in items], labels=[r.label for r in items], boxes=[r.box for r in items])
                n += len(items)
    idx.save()
    idx.close()
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return n
