"""Pipeline benchmark: pipelined throughput vs the slowest stage alone, vs a plain sequential
loop, and Ray's overhead per hop at VGA — all measured side by side in one run.

    python benchmarks/pipeline.py [--frames 32]

Throughput is steady state: frames after the first divided by the time from the first to the
last frame out (actor start-up and the first frame's warm-up are excluded on every side).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time

import numpy as np
import ray

from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
from sensorium.pipeline.cluster import init_ray
from sensorium.pipeline.stream.engine import Pipeline
from sensorium.pipeline.io.sample import make_sample
from sensorium.pipeline.io.sinks import JsonlSink, NpzSink
from sensorium.pipeline.io.sources import Source, SourceItem
from sensorium.stages.base import Stage, build_stage, register_stage
from sensorium.stages.results import Embeddings


class Identity(Stage):
    """Does nothing but add a tiny result: what is left is the cost of a hop."""

    name = "identity"

    def process(self, frames):
        return [Embeddings(vectors=np.zeros((1, 1), np.float32)) for _ in frames]


class Identity2(Identity):
    name = "identity2"


class Identity3(Identity):
    name = "identity3"


class Identity4(Identity):
    name = "identity4"


for cls in (Identity, Identity2, Identity3, Identity4):
    register_stage(cls)


class MemorySource(Source):
    """Pre-rendered sample frames, so rendering never limits the benchmark."""

    def __init__(self, seq, n: int, source_id: str = "bench") -> None:
        super().__init__(source_id)
        self.seq, self.n = seq, n

    def __len__(self) -> int:
        return self.n

    def _read(self):
        m = len(self.seq.lefts)
        for i in range(self.n):
            yield SourceItem(image=self.seq.lefts[i % m], right=self.seq.rights[i % m], calib=self.seq.calib, timestamp=time.time())


def steady_fps(stamps: list[float]) -> float:
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def run_pipeline(cfg: PipelineConfig, seq, n: int, sinks=()) -> float:
    """Steady-state fps of ``Pipeline.run``: from the first frame out until the sinks are closed."""
    stamps = []

    def on_frame(frame):
        assert frame.ok, frame.errors
        stamps.append(time.perf_counter())

    with Pipeline(cfg) as p:
        summary = p.run([MemorySource(seq, n)], sinks, on_frame=on_frame)
        end = time.perf_counter()
    assert summary.total_frames == n
    return (n - 1) / (end - stamps[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--out", default="/tmp/sensorium-bench")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n = args.frames
    seq = make_sample(8, 640, 480)
    init_ray(num_cpus=os.cpu_count())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, Ray {ray.__version__}")
    print(f"input: {n} VGA (640x480) stereo frames of the bundled sample\n")

    # 1. the slowest stage on its own, in this process
    from sensorium.pipeline.io.sources import SampleSource  # noqa: F401  (same frames as the pipeline sees)

    depth = build_stage("depth")
    depth.setup()
    frames = list(MemorySource(seq, n).frames())
    depth([frames[0]])
    stamps = []
    for f in frames:
        depth([f])
        stamps.append(time.perf_counter())
    stage_fps = steady_fps(stamps)

    # 2. a plain sequential loop: read, depth, sinks, one frame at a time (same sinks, same settings)
    out = args.out
    sinks = [JsonlSink(f"{out}/seq"), NpzSink(f"{out}/seq")]
    stamps = []
    for f in MemorySource(seq, n).frames():
        depth([f])
        for s in sinks:
            s.write(f)
        stamps.append(time.perf_counter())
    for s in sinks:
        s.close()
    seq_fps = steady_fps(stamps)

    # 3. the pipeline: depth in one actor, no sinks (the engine alone); then with the sinks; then two actors
    one = PipelineConfig(stages=(StageSpec("depth", num_cpus=1, max_batch=4),), max_in_flight=8)
    bare_fps = run_pipeline(one, seq, n)
    pipe_fps = run_pipeline(one, seq, n, [JsonlSink(f"{out}/pipe"), NpzSink(f"{out}/pipe")])
    two = PipelineConfig(stages=(StageSpec("depth", replicas=2, num_cpus=1, max_batch=4),), max_in_flight=8)
    pipe2_fps = run_pipeline(two, seq, n, [JsonlSink(f"{out}/pipe2"), NpzSink(f"{out}/pipe2")])

    # 4. Ray overhead per hop: 1 vs 4 identity stages on VGA frames
    def chain(k: int) -> PipelineConfig:
        names = ["identity", "identity2", "identity3", "identity4"][:k]
        return PipelineConfig(stages=tuple(StageSpec(nm, num_cpus=0.25, max_batch=1, max_wait_ms=0) for nm in names), max_in_flight=1)

    lat = {}
    for k in (1, 4):
        fps = run_pipeline(chain(k), seq, n)
        lat[k] = 1.0 / fps  # max_in_flight=1: one frame at a time, so 1/fps is the per-frame latency
    per_hop_ms = (lat[4] - lat[1]) / 3 * 1e3

    print(f"{'measure':<52}{'value':>12}")
    print(f"{'depth stage alone (this process)':<52}{stage_fps:>9.2f} fps")
    print(f"{'sequential loop: depth + jsonl + npz':<52}{seq_fps:>9.2f} fps")
    print(f"{'pipeline, depth x1 actor, no sinks':<52}{bare_fps:>9.2f} fps")
    print(f"{'pipeline, depth x1 actor + jsonl + npz':<52}{pipe_fps:>9.2f} fps")
    print(f"{'pipeline, depth x2 actors + jsonl + npz':<52}{pipe2_fps:>9.2f} fps")
    print(f"{'ratio pipeline x1 (no sinks) / slowest stage alone (goal >= 0.85)':<52}{bare_fps / stage_fps:>12.2f}")
    print(f"{'ratio pipeline x1 / sequential loop':<52}{pipe_fps / seq_fps:>12.2f}")
    print(f"{'ratio pipeline x2 / sequential loop':<52}{pipe2_fps / seq_fps:>12.2f}")
    print(f"{'one-frame latency, 1 identity stage':<52}{lat[1] * 1e3:>9.2f} ms")
    print(f"{'one-frame latency, 4 identity stages':<52}{lat[4] * 1e3:>9.2f} ms")
    print(f"{'Ray overhead per extra hop at VGA':<52}{per_hop_ms:>9.2f} ms")


if __name__ == "__main__":
    main()
