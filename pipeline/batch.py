"""Batch jobs over image collections on Ray Data, resumable, with a failure report.

``run_batch(inputs, stages, output)``: the paths are read and decoded in Ray Data tasks, each
stage runs in ``map_batches`` over a pool of actors that build the stage once (the same stage
classes as the streaming pipeline), and the driver streams the results out as they come
(``iter_batches``: bounded memory) into

- ``OUT/parts/part-*.parquet``: one row per good image (path, width, height, each stage's
  result as JSON, ``embedding``: the image vector when ``embed`` ran), each part written to a
  temporary name and renamed, so a part on disk is complete;
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .storage import Storage, is_remote

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
PARTS = "parts"
FAILURES = "failures.jsonl"
JOB = "job.json"


@dataclass(frozen=True)
class BatchStage:
    """One stage of a batch job: its options, actors in its pool, images per call, resources."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    actors: int = 1
    batch_size: int = 16
    num_cpus: float = 1.0
    num_gpus: float = 0.0


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


class _Decode:
    """Ray Data actor UDF: paths or URIs → decoded RGB images, or the reason they cannot be read.
    A few threads per batch hide an object store's latency per request (OpenCV's decoding and
    pyarrow's reads release the GIL)."""

    def __init__(self, storage: Storage, threads: int = 4) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.storage = storage
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="decode")

    def _load(self, path: str) -> tuple[np.ndarray, str]:
        from .sources import decode_image, read_image

        try:
            image = decode_image(self.storage.read_bytes(path)) if is_remote(path) else read_image(path)
            return image, ""
        except (OSError, ValueError) as exc:
            return np.zeros((1, 1, 3), np.uint8), f"source: {exc}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        loaded = list(self.pool.map(self._load, [str(p) for p in batch["path"]]))
        images, errors = [im for im, _ in loaded], [e for _, e in loaded]
        return {"path": batch["path"], "image": _objects(images), "error": np.array(errors, dtype=object),
                "results": np.array(["{}"] * len(images), dtype=object)}


def _objects(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


class _StageActor:
    """Ray Data actor UDF: builds the stage once, runs it on each batch of decoded images."""

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        from sensorium.stages.base import build_stage

        self.name = name
        self.stage = build_stage(name, options)
        self.stage.setup()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from sensorium.stages.frame import Frame
        from sensorium.stages.results import result_from_dict

        frames, idx = [], []
        for i, (p, img, err, res) in enumerate(zip(batch["path"], batch["image"], batch["error"], batch["results"])):
            if err:
                continue
            f = Frame(str(p), i, image=img)
            f.results.update({k: result_from_dict(v) for k, v in json.loads(res).items()})  # earlier stages' results
            frames.append(f)
            idx.append(i)
        errors, results = list(batch["error"]), list(batch["results"])
        for f, i in zip(self.stage(frames), idx):
            if self.name in f.errors:
                errors[i] = f"{self.name}: {f.errors[self.name]}"
            else:
                r = json.loads(results[i])
                r[self.name] = f.results[self.name].to_dict()
                results[i] = json.dumps(r)
        return {"path": batch["path"], "image": batch["image"], "error": np.array(errors, dtype=object), "results": np.array(results, dtype=object)}


def _rows(batch: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    good, bad = [], []
    for p, img, err, res in zip(batch["path"], batch["image"], batch["error"], batch["results"]):
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
        good.append({"path": str(p), "width": int(img.shape[1]), "height": int(img.shape[0]), "results": res, "embedding": vector})
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


def run_batch(inputs: str | Path | Sequence[str], stages: Sequence[BatchStage], output: str | Path, *, ray_address: str | None = None,
              decode_batch: int = 16, on_progress: Callable[[int, int], None] | None = None, build_index: bool = True,
              max_items: int | None = None, storage_options: dict[str, Any] | None = None) -> BatchSummary:
    """Run ``stages`` over ``inputs`` into ``output`` (see the module docstring); resumes.
    ``storage_options``: keyword arguments of the object store's pyarrow filesystem
    (``endpoint_override``, ``region``, ``anonymous``, ...) over what the environment says."""
    import ray

    if not stages:
        raise ValueError("a batch job needs at least one stage")
    if is_remote(str(output)):
        raise ValueError(f"--output must be a local folder, got {output}: parts are renamed into place and "
                         "failures.jsonl appended to, which object stores cannot do; copy the folder up afterwards")
    storage = Storage(storage_options)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    job = {"stages": [s.__dict__ for s in stages]}
    if (output / JOB).is_file():
        previous = json.loads((output / JOB).read_text())
        if previous["stages"] != job["stages"]:
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
        if not ray.is_initialized():
            ray.init(address=ray_address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        from ray.data import ActorPoolStrategy

        ds = ray.data.from_items([{"path": p} for p in todo], override_num_blocks=max(1, len(todo) // decode_batch))
        ds = ds.map_batches(_Decode, fn_constructor_args=(storage,), batch_size=decode_batch, compute=ActorPoolStrategy(size=1),
                            num_cpus=0.5, batch_format="numpy")
        for s in stages:
            ds = ds.map_batches(_StageActor, fn_constructor_args=(s.name, s.options), batch_size=s.batch_size, batch_format="numpy",
                                compute=ActorPoolStrategy(size=s.actors), num_cpus=s.num_cpus, num_gpus=s.num_gpus)
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            rows, fails = _rows(batch)
            if rows:
                _write_part(output, rows)
            if fails:
                _append_failures(output, fails)
            written += len(rows)
            failed += len(fails)
            if on_progress is not None:
                on_progress(written + failed, len(todo))
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

    from .vector_index import VectorIndex

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
