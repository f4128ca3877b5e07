"""Ordered stages: what the zones stage costs per frame, and what running an ordered stage in the
driver (at emit, the engine's design) costs against the same stage as a Ray actor hop.

    python benchmarks/ordered.py [--frames 64] [--rounds 3]

1. The zones stage alone, in-process: 2 polygon zones and 2 lines on a 640x480 frame, per frame
   at 10, 100 and 1000 tracks walking across them (median over the frames).
2. The engine, 64 frames of 320x240 through a parallel stage that makes 100 tracks, then zones:
   (A) zones ordered, in the driver; (B) the same counting code as a plain parallel stage in its
   own actor (wrong in general: it would see frames out of order; here only to price the hop).
   A and B alternate (ABAB rounds) so a noisy, shared machine weighs on both alike; the ratio
   B/A is reported as the median of the rounds with its range.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import ray

from sensorium.pipeline.io.sources import ImageFilesSource
from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
from sensorium.pipeline.stream.engine import Pipeline
from sensorium.stages.base import Stage, build_stage, register_stage
from sensorium.stages.frame import Frame
from sensorium.stages.results import Tracks
from sensorium.stages.zones.stage import ZonesStage

ZONES = {"zones": {"bench": [{"name": "left", "polygon": [[0, 0], [0.4, 0], [0.4, 1], [0, 1]]},
                             {"name": "mid", "polygon": [[0.3, 0.2], [0.7, 0.2], [0.7, 0.8], [0.5, 0.9], [0.3, 0.8]]}]},
         "lines": {"bench": [{"name": "v", "start": [0.5, 0], "end": [0.5, 1]}, {"name": "h", "start": [0, 0.5], "end": [1, 0.5]}]}}


def walking_tracks(seq: int, n: int, width: int, height: int) -> Tracks:
    """n tracks on a grid, walking right 4 px a frame (wrapping), so they keep crossing zones and lines."""
    rng = np.random.default_rng(0)
    x0, y0 = rng.uniform(0, width, n), rng.uniform(0, height, n)
    x = (x0 + 4 * seq) % width
    boxes = np.stack([x - 8, y0 - 16, x + 8, y0 + 16], axis=1).astype(np.float32)
    return Tracks(track_id=np.arange(n), boxes=boxes, scores=np.ones(n, np.float32), class_id=np.zeros(n, np.int64),
                  state=np.zeros(n, np.int64), item=np.arange(n), age=np.full(n, seq), of="detect")


class Walkers(Stage):
    name = "bench_walkers"

    def process(self, frames):
        return [walking_tracks(f.seq, 100, f.image.shape[1], f.image.shape[0]) for f in frames]


class ZonesInActor(ZonesStage):
    """The zones stage's code as a parallel stage (to price a Ray hop only)."""

    name = "bench_zones_actor"
    ordered = False


register_stage(Walkers)
register_stage(ZonesInActor)


def stage_alone(n_tracks: int, frames: int = 100) -> float:
    stage = build_stage("zones", {**ZONES, "tracks": "bench_walkers"})
    image = np.zeros((480, 640, 3), np.uint8)
    times = []
    for seq in range(frames):
        f = Frame("bench", seq, image=image, results={"bench_walkers": walking_tracks(seq, n_tracks, 640, 480)})
        t = time.perf_counter()
        stage([f])
        times.append(time.perf_counter() - t)
        assert "zones" in f.results, f.errors
    return statistics.median(times[5:]) * 1e3


def engine_fps(folder: Path, zones_stage: str, max_in_flight: int = 8) -> float:
    specs = (StageSpec("bench_walkers", num_cpus=0.5, max_batch=4), StageSpec(zones_stage, {**ZONES, "tracks": "bench_walkers"}, num_cpus=0.5))
    cfg = PipelineConfig(stages=specs, max_in_flight=max_in_flight)
    with Pipeline(cfg) as p:
        out = []
        for f in p.stream([ImageFilesSource.from_folder(folder, source_id="bench")]):
            out.append(time.perf_counter())
            assert f.ok, f.errors
    return (len(out) - 1) / (out[-1] - out[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, Ray {ray.__version__}")
    for n in (10, 100, 1000):
        print(f"zones stage alone (2 zones, 2 lines), {n:4d} tracks: {stage_alone(n):.3f} ms/frame")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(args.frames):
            cv2.imwrite(str(folder / f"f_{i:04d}.png"), np.full((240, 320, 3), i % 255, np.uint8))
        engine_fps(folder, "zones")  # warm-up: imports, Ray workers
        a, b, la, lb = [], [], [], []
        for _ in range(args.rounds):
            a.append(engine_fps(folder, "zones"))
            b.append(engine_fps(folder, "bench_zones_actor"))
            la.append(1e3 / engine_fps(folder, "zones", 1))
            lb.append(1e3 / engine_fps(folder, "bench_zones_actor", 1))
    ratios = [y / x for x, y in zip(a, b)]
    extra = [y - x for x, y in zip(la, lb)]
    print(f"engine, 100 tracks: (A) zones ordered in the driver {statistics.median(a):.1f} fps (rounds {', '.join(f'{v:.1f}' for v in a)})")
    print(f"engine, 100 tracks: (B) zones as an actor hop     {statistics.median(b):.1f} fps (rounds {', '.join(f'{v:.1f}' for v in b)})")
    print(f"throughput B/A median {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})")
    print(f"one frame at a time (max_in_flight=1): A {statistics.median(la):.2f} ms/frame, B {statistics.median(lb):.2f} ms/frame; "
          f"B-A median {statistics.median(extra):.2f} ms (range {min(extra):.2f} to {max(extra):.2f})")
    ray.shutdown()


if __name__ == "__main__":
    main()
