"""Pipeline benchmark: pipelined throughput vs the slowest stage alone, vs a plain sequential
loop, and Ray's overhead per hop at VGA — all measured side by side in one run — and the
tracker's cost per frame at 10, 100 and 1000 objects (benchmarks/tracker.py).

    python benchmarks/pipeline.py [--frames 64] [--rounds 3] [--no-tracker]

Throughput is steady state: frames after the first divided by the time from the first to the
last frame out (actor start-up and the first frame's warm-up are excluded on every side).

On a loaded machine one run per configuration is not a measurement (two back-to-back runs gave
0.68 and 1.20 for the same pipeline/stage ratio): every configuration runs once per round, the
order reversed every other round (benchmarks/interleave.py), and each ratio is the median of the
per-round ratios with its spread [min-max].
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interleave import fmt, median_spread, ratio, rounds  # noqa: E402


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


def stage_alone_fps(depth: Stage, seq, n: int) -> float:
    """The slowest stage on its own, in this process, one frame at a time."""
    frames = list(MemorySource(seq, n).frames())
    depth([frames[0]])
    stamps = []
    for f in frames:
        depth([f])
        stamps.append(time.perf_counter())
    return steady_fps(stamps)


def sequential_fps(depth: Stage, seq, n: int, out: str) -> float:
    """A plain sequential loop: read, depth, sinks, one frame at a time (same sinks, same settings)."""
    sinks = [JsonlSink(f"{out}/seq"), NpzSink(f"{out}/seq")]
    stamps = []
    for f in MemorySource(seq, n).frames():
        depth([f])
        for s in sinks:
            s.write(f)
        stamps.append(time.perf_counter())
    for s in sinks:
        s.close()
    return steady_fps(stamps)


def chain(k: int) -> PipelineConfig:
    """k identity stages, one frame in flight: 1/fps is the per-frame latency."""
    names = ["identity", "identity2", "identity3", "identity4"][:k]
    return PipelineConfig(stages=tuple(StageSpec(nm, num_cpus=0.25, max_batch=1, max_wait_ms=0) for nm in names), max_in_flight=1)


def measures(seq, n: int, out: str) -> dict:
    """name -> a function measuring it once (fps)."""
    depth = build_stage("depth")
    depth.setup()
    one = PipelineConfig(stages=(StageSpec("depth", num_cpus=1, max_batch=4),), max_in_flight=8)
    two = PipelineConfig(stages=(StageSpec("depth", replicas=2, num_cpus=1, max_batch=4),), max_in_flight=8)
    return {
        "stage": lambda: stage_alone_fps(depth, seq, n),
        "sequential": lambda: sequential_fps(depth, seq, n, out),
        "bare": lambda: run_pipeline(one, seq, n),
        "pipe": lambda: run_pipeline(one, seq, n, [JsonlSink(f"{out}/pipe"), NpzSink(f"{out}/pipe")]),
        "pipe2": lambda: run_pipeline(two, seq, n, [JsonlSink(f"{out}/pipe2"), NpzSink(f"{out}/pipe2")]),
        "hop1": lambda: run_pipeline(chain(1), seq, n),
        "hop4": lambda: run_pipeline(chain(4), seq, n),
    }


def report(r: dict[str, list[float]]) -> None:
    fps = {k: fmt(median_spread(v)) for k, v in r.items()}
    lat1, lat4 = [1e3 / x for x in r["hop1"]], [1e3 / x for x in r["hop4"]]
    per_hop = [(b - a) / 3 for a, b in zip(lat1, lat4)]
    print(f"{'measure (median [min-max] over rounds)':<52}{'value':>22}")
    print(f"{'depth stage alone (this process)':<52}{fps['stage']:>18} fps")
    print(f"{'sequential loop: depth + jsonl + npz':<52}{fps['sequential']:>18} fps")
    print(f"{'pipeline, depth x1 actor, no sinks':<52}{fps['bare']:>18} fps")
    print(f"{'pipeline, depth x1 actor + jsonl + npz':<52}{fps['pipe']:>18} fps")
    print(f"{'pipeline, depth x2 actors + jsonl + npz':<52}{fps['pipe2']:>18} fps")
    print(f"{'ratio pipeline x1 (no sinks) / stage alone (>= 0.85)':<52}{fmt(ratio(r['bare'], r['stage'])):>22}")
    print(f"{'ratio pipeline x1 / sequential loop':<52}{fmt(ratio(r['pipe'], r['sequential'])):>22}")
    print(f"{'ratio pipeline x2 / sequential loop':<52}{fmt(ratio(r['pipe2'], r['sequential'])):>22}")
    print(f"{'one-frame latency, 1 identity stage':<52}{fmt(median_spread(lat1)):>19} ms")
    print(f"{'one-frame latency, 4 identity stages':<52}{fmt(median_spread(lat4)):>19} ms")
    print(f"{'Ray overhead per extra hop at VGA':<52}{fmt(median_spread(per_hop)):>19} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (each runs every configuration once)")
    ap.add_argument("--out", default="/tmp/sensorium-bench")
    ap.add_argument("--no-tracker", action="store_true", help="skip the tracker's cost table")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n = args.frames
    seq = make_sample(8, 640, 480)
    init_ray(num_cpus=os.cpu_count())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, Ray {ray.__version__}")
    print(f"input: {n} VGA (640x480) stereo frames of the bundled sample; {args.rounds} interleaved rounds\n")
    report(rounds(measures(seq, n, args.out), args.rounds))
    if not args.no_tracker:
        from tracker import cost_table

        print(f"\n{'tracker cost per frame (median [min-max] over rounds)':<52}{'ms':>22}")
        for name, stats in cost_table(60, max(args.rounds, 3)).items():
            print(f"{'track, ' + name:<52}{fmt(stats):>22}")


if __name__ == "__main__":
    main()
