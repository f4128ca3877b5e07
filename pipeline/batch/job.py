"""Batch jobs over image collections on Ray Data, resumable, with a failure report.

``run_batch(inputs, stages, output)``: each stage runs in ``map_batches`` over a pool of actors
that build the stage once (the same stage classes as the streaming pipeline); the first
stage's actors read and decode their own batches, so an image is decoded where it is first
used. The driver streams the results out as they come (``iter_batches``: bounded memory) into

- ``OUT/parts/part-*.parquet``: one row per good image (path, width, height, each stage's
  result as JSON, ``embedding``: the image vector when ``embed`` ran), a part per
  ``part_rows`` rows or ``part_seconds``, each written to a temporary name and renamed, so a
  part on disk is complete;
- ``OUT/failures.jsonl``: one line per failed image (path, stage, reason), flushed and
  fsync'ed per batch;
- ``OUT/job.json``: the stages and options (``sensorium search`` rebuilds the embed stage
  from it); ``OUT/index/``: the vector index, when ``embed`` ran.

Inputs are local paths or object-store URIs (``s3://bucket/photos/**/*.jpg``, ``gs://...``),
listed and read through ``pyarrow.fs`` (``storage.py``: credentials and endpoint from the
standard environment or ``storage_options``); a row's ``path`` is then the object's URI. The
output is a local folder: parts are renamed into place and the failure report is appended to,
which object stores cannot do.

Resumption: a path is done when it is in a part or in the failure report; a rerun processes
only the others, so an interrupted job (driver killed mid-run) completes with every image
exactly once. A truncated last line of the failure report (a kill during the write) is
dropped and that image is processed again.
"""

from __future__ import annotations

import glob as globlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from sensorium.pipeline.cluster import init_ray
from sensorium.stages.images import IMAGE_SUFFIXES
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
    pending forever). ``num_gpus`` None: on a cluster with GPUs, the stages whose ``providers``
    ask for CUDA or TensorRT share them, at most 1 per actor; 0 elsewhere."""

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
    paths. Missing paths stay in the list: they fail, by name, in the job."""
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
    return sorted(set(items))


def done_paths(output: Path) -> tuple[set[str], set[str]]:
    """(paths with a row in a complete part, paths in the failure report); repairs a failure
    report whose last line was cut off."""
    import pyarrow.parquet as pq

    good: set[str] = set()
    for part in sorted((output / PARTS).glob("part-*.parquet")):
        good.update(pq.read_table(part, columns=["path"]).column("path").to_pylist())
    bad: set[str] = set()
    fpath = output / FAILURES
    if fpath.is_file():
        lines, keep = fpath.read_text().splitlines(keepends=True), []
        for line in lines:
            try:
                bad.add(json.loads(line)["path"])
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
    """Ray Data actor UDF: builds the stage once, runs it on each batch.

    The first stage (``storage`` given) reads and decodes its batch itself, so images are used
    where they are decoded: none crosses the object store before the first stage and no decode
    pool holds CPUs (on 2 cores a separate decode actor kept the stage actors pending until it
    had decoded every image, all of them then waiting in the object store). The last stage
    (``last``) drops the images: the driver receives only what it writes. A Ray Data batch
    may be larger than the stage's: it is loaded and run ``chunk`` images at a time, so a
    first-and-last stage holds at most ``chunk`` decoded images."""

    def __init__(self, name: str, options: dict[str, Any], storage: Storage | None = None, last: bool = True, chunk: int = 16) -> None:
        from sensorium.stages.base import build_stage

        self.name, self.last, self.chunk = name, last, chunk
        self.loader = _Loader(storage) if storage is not None else None
        self.stage = build_stage(name, options)
        self.stage.setup()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["path"])
        outs = [self._run({k: v[i:i + self.chunk] for k, v in batch.items()}) for i in range(0, n, self.chunk)]
        return outs[0] if len(outs) == 1 else {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

    def _run(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from sensorium.stages.frame import Frame
        from sensorium.stages.results import result_from_dict

        if self.loader is not None:
            images, errors = self.loader(batch["path"])
            results = ["{}"] * len(images)
            sizes = np.array([im.shape[:2] if not err else (0, 0) for im, err in zip(images, errors)], np.int32).reshape(-1, 2)
            height, width = sizes[:, 0], sizes[:, 1]
        else:
            images, errors, results = list(batch["image"]), list(batch["error"]), list(batch["results"])
            height, width = batch["height"], batch["width"]
        frames, idx = [], []
        for i, (p, img, err, res) in enumerate(zip(batch["path"], images, errors, results)):
            if err:
                continue
            f = Frame(str(p), i, image=img)
            f.results.update({k: result_from_dict(v) for k, v in json.loads(res).items()})  # earlier stages' results
            frames.append(f)
            idx.append(i)
        for f, i in zip(self.stage(frames), idx):
            if self.name in f.errors:
                errors[i] = f"{self.name}: {f.errors[self.name]}"
            else:
                r = json.loads(results[i])
                r[self.name] = f.results[self.name].to_dict()
                results[i] = json.dumps(r)
        out = {"path": batch["path"], "width": width, "height": height, "error": np.array(errors, dtype=object),
               "results": np.array(results, dtype=object)}
        if not self.last:
            out["image"] = _objects(images)
        return out


def _rows(batch: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    good, bad = [], []
    for p, w, h, err, res in zip(batch["path"], batch["width"], batch["height"], batch["error"], batch["results"]):
        if err:
            stage, _, reason = str(err).partition(": ")
            bad.append({"path": str(p), "stage": stage, "reason": reason})
            continue
        results = json.loads(res)
        emb = results.get("embed")
        vector = None
        if emb is not None:
            from sensorium.stages.results import result_from_dict

            vector = result_from_dict(emb).vectors[0].tolist()
        good.append({"path": str(p), "width": int(w), "height": int(h), "results": res, "embedding": vector})
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
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    os.replace(tmp, folder / name)  # a part on disk is always complete


def _append_failures(output: Path, rows: list[dict[str, Any]]) -> None:
    with open(output / FAILURES, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.flush()
        os.fsync(f.fileno())


# Options a batch job sets unless the user does: the face stage's aligned crops (112x112x3 per
# face) suit a live stream's next stage, but as JSON in every Parquet row they dwarf the results.
BATCH_DEFAULTS: dict[str, dict[str, Any]] = {"face": {"keep_chips": False}}


def _cpus(stages: Sequence[BatchStage], cluster: dict[str, float]) -> list[float]:
    """CPUs per actor of each stage: as given, or a share of what the given ones leave. Raises
    ValueError when the actors cannot all hold their resources at once (they would wait forever)."""
    cpus = cluster.get("CPU", 0.0)
    fixed = sum(s.num_cpus * s.actors for s in stages if s.num_cpus is not None)
    shared = sum(s.actors for s in stages if s.num_cpus is None)
    share = min(1.0, (cpus - fixed) / shared) if shared else 0.0
    if fixed > cpus + 1e-9 or (shared and share <= 0):
        raise ValueError(f"the stages' actors need more than the cluster's CPU={cpus:g} "
                         f"({fixed:g} given to {[s.name for s in stages if s.num_cpus is not None]}); lower num_cpus or actors")
    return [s.num_cpus if s.num_cpus is not None else share for s in stages]


def _wants_gpu(stage: BatchStage) -> bool:
    """Whether the stage's onnxruntime providers (its option, else its config's default) name a GPU one."""
    import dataclasses

    from sensorium.stages.base import get_stage_class

    providers = stage.options.get("providers")
    if providers is None:
        defaults = {f.name: f.default for f in dataclasses.fields(get_stage_class(stage.name).Config)}
        providers = defaults.get("providers", ())
    if isinstance(providers, str):
        providers = providers.split(",")
    return any(str(p).strip().lower().removesuffix("executionprovider") in ("cuda", "tensorrt") for p in providers)


def _gpus(stages: Sequence[BatchStage], cluster: dict[str, float]) -> list[float]:
    """GPUs per actor of each stage: as given, or (None) a share of what is left for the stages
    that run on a GPU provider. Raises ValueError when the given ones exceed the cluster's."""
    total = cluster.get("GPU", 0.0)
    fixed = sum(s.num_gpus * s.actors for s in stages if s.num_gpus is not None)
    if fixed > total + 1e-9:
        raise ValueError(f"the stages' actors need GPU={fixed:g} together; the cluster has GPU={total:g}")
    auto = [i for i, s in enumerate(stages) if s.num_gpus is None and total > 0 and _wants_gpu(s)]
    waiting = sum(stages[i].actors for i in auto)
    share = min(1.0, (total - fixed) / waiting) if waiting else 0.0
    if waiting and share <= 0:
        raise ValueError(f"no GPU left for {[stages[i].name for i in auto]}: the cluster's GPU={total:g} is all given to other stages")
    return [s.num_gpus if s.num_gpus is not None else (share if i in auto else 0.0) for i, s in enumerate(stages)]


def run_batch(inputs: str | Path | Sequence[str], stages: Sequence[BatchStage], output: str | Path, *, ray_address: str | None = None,
              on_progress: Callable[[int, int], None] | None = None, build_index: bool = True, max_items: int | None = None,
              storage_options: dict[str, Any] | None = None, part_rows: int = 1000, part_seconds: float = 10.0,
              task_images: int = 64) -> BatchSummary:
    """Run ``stages`` over ``inputs`` into ``output`` (see the module docstring); resumes.

    ``storage_options``: keyword arguments of the object store's pyarrow filesystem
    (``endpoint_override``, ``region``, ``anonymous``, ...) over what the environment says.
    A part is written once ``part_rows`` rows or ``part_seconds`` have gathered: fewer, larger
    files, and a killed job redoes at most that much. ``task_images``: images per Ray Data task
    of the first stage (at least its batch size; its actor loads and runs them a stage batch at
    a time): Ray costs each task tens of ms on a 2-core machine, which small tasks pay again
    and again while the actors wait (benchmarks.md, batch jobs)."""
    import ray

    if not stages:
        raise ValueError("a batch job needs at least one stage")
    stages = [replace(s, options={**BATCH_DEFAULTS.get(s.name, {}), **s.options}) for s in stages]
    if is_remote(str(output)):
        raise ValueError(f"--output must be a local folder, got {output}: parts are renamed into place and "
                         "failures.jsonl appended to, which object stores cannot do; copy the folder up afterwards")
    storage = Storage(storage_options)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    job = {"stages": [s.__dict__ for s in stages]}
    if (output / JOB).is_file():
        previous = json.loads((output / JOB).read_text())
        # what the results are depends on the stages and their options, not on actors or batch sizes
        if [(p["name"], p["options"]) for p in previous["stages"]] != [(s.name, s.options) for s in stages]:
            raise ValueError(f"{output} holds a job with other stages/options ({previous['stages']}); use another --output")
    else:
        (output / JOB).write_text(json.dumps(job, indent=2))
    paths = list_inputs(inputs, storage)
    good, bad = done_paths(output)
    todo = [p for p in paths if p not in good and p not in bad]
    if max_items is not None:
        todo = todo[:max_items]
    start = time.time()
    written = failed = 0
    if todo:
        init_ray(ray_address, log_to_driver=False)
        from ray.data import ActorPoolStrategy, DataContext

        ctx = DataContext.get_current()  # on_progress reports progress; Ray Data's own bars and logs would repeat it
        ctx.enable_progress_bars, ctx.print_on_execution_start = False, False
        cluster = ray.cluster_resources()
        cpus, gpus = _cpus(stages, cluster), _gpus(stages, cluster)
        first = max(stages[0].batch_size, task_images)
        ds = ray.data.from_items([{"path": p} for p in todo], override_num_blocks=max(1, -(-len(todo) // first)))
        for k, (s, num_cpus, num_gpus) in enumerate(zip(stages, cpus, gpus)):
            args = (s.name, s.options, storage if k == 0 else None, k == len(stages) - 1, s.batch_size)
            ds = ds.map_batches(_StageActor, fn_constructor_args=args, batch_size=first if k == 0 else s.batch_size, batch_format="numpy",
                                compute=ActorPoolStrategy(size=s.actors), num_cpus=num_cpus, num_gpus=num_gpus)
        pending: list[dict[str, Any]] = []
        flushed = time.monotonic()
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            rows, fails = _rows(batch)
            pending += rows
            if fails:
                _append_failures(output, fails)
            if pending and (len(pending) >= part_rows or time.monotonic() - flushed >= part_seconds):
                _write_part(output, pending)
                written, pending, flushed = written + len(pending), [], time.monotonic()
            failed += len(fails)
            if on_progress is not None:
                on_progress(written + len(pending) + failed, len(todo))
        if pending:
            _write_part(output, pending)
            written += len(pending)
    if build_index and any(s.name == "embed" for s in stages):
        rebuild_index(output)
    return BatchSummary(len(paths), len(paths) - len(todo), written, failed, time.time() - start)


def iter_rows(output: str | Path) -> Iterable[dict[str, Any]]:
    import pyarrow.parquet as pq

    for part in sorted((Path(output) / PARTS).glob("part-*.parquet")):
        yield from pq.read_table(part).to_pylist()


def rebuild_index(output: str | Path) -> int:
    """(Re)build ``OUT/index`` from every part's embed results: image vectors and detection crops."""
    import shutil

    from sensorium.stages.results import result_from_dict

    from sensorium.pipeline.batch.vector_index import VectorIndex

    folder = Path(output) / "index"
    tmp = Path(output) / f".index.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    idx = VectorIndex(tmp)
    n = 0
    for row in iter_rows(output):
        res = json.loads(row["results"])
        if "embed" not in res:
            continue
        e = result_from_dict(res["embed"])
        kinds = [str(k) for k in e.data.get("source", ["image"] * len(e))]
        labels = [str(x) for x in e.data["label"]] if "label" in e.data else None
        idx.add(e.vectors, [row["path"]] * len(e), model=e.model, kinds=kinds, labels=labels,
                boxes=None if e.boxes is None else [tuple(b) for b in e.boxes])
        n += len(e)
    idx.save()
    idx.close()
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return n
