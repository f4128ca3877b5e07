"""Batch-job benchmark: a Ray Data job's images per second against the same stage in one
process, and the peak memory of the job (driver + raylet + workers) on 1,000 vs 10,000 images,
all measured side by side in one run.

    python benchmarks/batch.py [--images 3000] [--memory-counts 1000,10000] [--actors 2] [--task-images 16,64]

The stage is ``detect`` at 64 px (the shipped DETR, onnxruntime, one thread per process):
cheap enough for 10,000 images in a few minutes on 2 cores, costly enough that what is
measured is the engine's overhead and not file-system noise. Inputs are generated 64x64
JPEGs on local disk. Throughput is steady state on both sides: the one-process loop after a
warm-up batch; the job from its first result out to its last (Ray start-up and actor setup
excluded; the whole job's wall time is printed too).

Peak memory is sampled every 0.2 s over this process and every process it started (the
local Ray: GCS, raylet, workers) as the sum of PSS (proportional set size: shared pages,
such as the object store's, are counted once across processes) and of RSS (what ``top``
shows, shared pages counted in every process that touches them).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import shutil
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import ray

from sensorium.models.data.shapes import ShapesConfig, make_image
from sensorium.pipeline.batch.job import BatchStage, run_batch
from sensorium.pipeline.io.sources import read_image
from sensorium.stages.base import build_stage
from sensorium.stages.frame import Frame

STAGE = "detect"


class PeakMemory:
    """Samples the summed PSS and RSS of this process and its descendants in a thread."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s, self.peak_pss, self.peak_rss, self.processes = interval_s, 0, 0, 0
        self.start_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        pss = rss = 0
        procs = [me, *me.children(recursive=True)]
        for p in procs:
            try:
                m = p.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            pss, rss = pss + m.pss, rss + m.rss
        self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
        self.processes = max(self.processes, len(procs))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "PeakMemory":
        self._sample()
        self.start_pss = self.peak_pss
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def make_images(folder: Path, n: int, size: int) -> list[str]:
    """``n`` JPEGs of generated shapes (a few distinct scenes, re-encoded with their index so no
    two files are the same bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    scenes = [make_image(11, i, ShapesConfig(size=size, min_scale=8, max_scale=size // 2))[0][..., ::-1] for i in range(64)]
    paths = []
    for i in range(n):
        img = scenes[i % len(scenes)].copy()
        img[0, 0] = (i % 256, (i // 256) % 256, 0)
        p = folder / f"{i // 1000:02d}" / f"img{i:05d}.jpg"
        p.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(p), img)
        paths.append(str(p))
    return paths


def one_process(paths: list[str], options: dict, batch: int, decode: bool) -> float:
    """Images/s of the stage in this process, batches of ``batch``; ``decode``: read and decode
    each batch too (else the images are decoded in advance)."""
    stage = build_stage(STAGE, options)
    stage.setup()
    images = None if decode else [read_image(p) for p in paths]
    stage([Frame("bench", 0, image=read_image(paths[0]))])  # warm-up
    start = time.perf_counter()
    for j in range(0, len(paths), batch):
        chunk = [read_image(p) for p in paths[j:j + batch]] if decode else images[j:j + batch]
        out = stage([Frame("bench", j + i, image=im) for i, im in enumerate(chunk)])
        assert all(f.ok for f in out)
    return len(paths) / (time.perf_counter() - start)


def job(paths: list[str], out: Path, spec: BatchStage, memory: bool, task_images: int) -> tuple[float, float, PeakMemory | None]:
    """(steady images/s, whole-job seconds, peak memory when ``memory``) of a batch job in a
    fresh local Ray. Sampling memory costs CPU, so the throughput run goes without it."""
    shutil.rmtree(out, ignore_errors=True)
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    stamps: list[tuple[float, int]] = []
    mem = PeakMemory(0.5) if memory else contextlib.nullcontext()
    try:
        with mem:
            start = time.perf_counter()
            summary = run_batch(paths, [spec], out, build_index=False, task_images=task_images,
                                on_progress=lambda done, total: stamps.append((time.perf_counter(), done)))
            wall = time.perf_counter() - start
    finally:
        ray.shutdown()
    assert summary.written == len(paths) and summary.failed == 0, summary
    if len(stamps) < 10:  # too few batches came out for a steady-state rate
        return float("nan"), wall, mem if memory else None
    (t0, n0), (t1, n1) = stamps[0], stamps[-1]
    return (n1 - n0) / (t1 - t0), wall, mem if memory else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=3000, help="images for the throughput comparison")
    ap.add_argument("--memory-counts", default="1000,10000", help="image counts whose peak memory is compared")
    ap.add_argument("--size", type=int, default=64, help="generated image side (px); detect runs at this size")
    ap.add_argument("--actors", type=int, default=2, help="stage actors in the job")
    ap.add_argument("--batch-size", type=int, default=16, help="images per stage call, on both sides")
    ap.add_argument("--task-images", default="16,64", help="images per Ray task, each measured; memory at the last")
    ap.add_argument("--work", default=None, help="folder for the images and outputs (default: a temporary one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    counts = [int(c) for c in args.memory_counts.split(",") if c]
    tasks = [int(t) for t in args.task_images.split(",") if t]
    options = {"threads": 1, "min_size": args.size, "max_size": args.size}
    cpus = os.cpu_count() or 1
    spec = BatchStage(STAGE, options, actors=args.actors, batch_size=args.batch_size, num_cpus=min(1.0, cpus / args.actors))
    work = Path(args.work or tempfile.mkdtemp(prefix="sensorium-bench-batch-"))
    paths = make_images(work / "images", max([args.images, *counts]), args.size)

    print(f"machine: {cpu_model()}, {cpus} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"load average {os.getloadavg()[0]:.2f}; Python {platform.python_version()}, Ray {ray.__version__}")
    print(f"stage: {STAGE} {options}, batch {spec.batch_size}; job: {spec.actors} actors x {spec.num_cpus:g} CPU; "
          f"inputs: {args.size}x{args.size} JPEGs on local disk; {args.images} images for throughput\n")

    sample = paths[: args.images]
    alone = one_process(sample, options, args.batch_size, decode=False)
    alone2 = one_process(sample, {**options, "threads": cpus}, args.batch_size, decode=False)
    loop = one_process(sample, options, args.batch_size, decode=True)
    rows = [("stage alone, one process, 1 thread (decoded images)", f"{alone:9.1f} img/s"),
            (f"stage alone, one process, {cpus} threads", f"{alone2:9.1f} img/s"),
            ("read + decode + stage, one process, 1 thread", f"{loop:9.1f} img/s")]
    for t in tasks:
        job_ips, job_wall, _ = job(sample, work / "out-throughput", spec, memory=False, task_images=t)
        if job_ips != job_ips:
            raise SystemExit(f"{args.images} images in tasks of {t}: too few batches for a steady-state rate; give more --images")
        rows += [(f"job, {t} images per task: steady state", f"{job_ips:9.1f} img/s"),
                 (f"job, {t} images per task: whole run (start-up included)", f"{len(sample) / job_wall:9.1f} img/s ({job_wall:.1f} s)"),
                 (f"job, {t} images per task: ratio to best stage alone in one process (goal >= 0.8)", f"{job_ips / max(alone, alone2):12.2f}"),
                 (f"job, {t} images per task: ratio to read + decode + stage in one process", f"{job_ips / loop:12.2f}"),
                 (f"job, {t} images per task: ratio to {spec.actors} x stage alone (1 thread)", f"{job_ips / (spec.actors * alone):12.2f}")]
    for n in counts:
        _, wall, mem = job(paths[:n], work / f"out-{n}", spec, memory=True, task_images=tasks[-1])
        rows.append((f"{n:,} images: peak PSS (RSS) of driver + Ray, {mem.processes} processes",
                     f"{mem.peak_pss / 2**20:7.0f} MiB ({mem.peak_rss / 2**20:.0f} MiB; {mem.start_pss / 2**20:.0f} MiB PSS before the job), "
                     f"job {wall:.0f} s"))
    for name, value in rows:
        print(f"{name:<80}{value}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
