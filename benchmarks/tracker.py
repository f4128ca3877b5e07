"""Tracker benchmark: the ``track`` stage's ByteTrack cost per frame at 10, 100 and 1000 objects,
2-D and 3-D, and its MOTA/IDF1/ID switches on the generated sequences (motmetrics).

    python benchmarks/tracker.py [--frames 60] [--rounds 5] [--seeds 5]

Cost: objects walk at constant velocity on a canvas scaled so density stays that of a street
scene; detections jitter, 5 % are missed, a fifth score low. Each round runs every configuration
once (order reversed every other round, benchmarks/interleave.py) on a fresh tracker and records
the mean time per frame after 5 warm-up frames; the table gives the median over rounds and its
spread [min-max].
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interleave import fmt, median_spread, rounds  # noqa: E402

from sensorium.models.data.trajectories import crossing_sequence, depth_overlap_sequence  # noqa: E402
from sensorium.stages.track.bytetrack import ByteTracker, Observations, TrackerParams  # noqa: E402
from sensorium.stages.track.evaluate import run_tracker, score  # noqa: E402

WARMUP = 5


def crowd(n: int, frames: int, with3d: bool, seed: int = 0) -> list[Observations]:
    """``frames`` frames of ``n`` walking objects (60x140 px boxes, 30 fps) as noisy detections."""
    rng = np.random.default_rng(seed)
    side = 400.0 * np.sqrt(n)  # ~ 6 objects per 1000x1000 px
    pos, vel = rng.uniform(0, side, (n, 2)), rng.normal(0, 40, (n, 2))
    z = rng.uniform(3, 15, n)
    out = []
    for t in range(frames):
        c = pos + vel * t / 30 + rng.normal(0, 2, (n, 2))
        boxes = np.concatenate([c - [30, 70], c + [30, 70]], axis=1)
        keep = rng.random(n) > 0.05
        scores = np.where(rng.random(n) < 0.2, rng.uniform(0.15, 0.5, n), rng.uniform(0.6, 0.95, n))
        xyz = np.stack([c[:, 0] / 800 * z, c[:, 1] / 800 * z, z + rng.normal(0, 0.05, n)], axis=1) if with3d else None
        spread = np.full((n, 3), 0.05) if with3d else None
        out.append(Observations(boxes[keep], scores[keep], np.zeros(int(keep.sum()), np.int64),
                                None if xyz is None else xyz[keep], None if spread is None else spread[keep]))
    return out


def cost_per_frame(frames: list[Observations]) -> float:
    """Mean seconds per ``update`` after the warm-up frames, on a fresh tracker."""
    tr = ByteTracker(TrackerParams())
    for t, f in enumerate(frames[:WARMUP]):
        tr.update(t / 30, f)
    start = time.perf_counter()
    for t, f in enumerate(frames[WARMUP:], start=WARMUP):
        tr.update(t / 30, f)
    return (time.perf_counter() - start) / (len(frames) - WARMUP)


def cost_table(frames: int, n_rounds: int, sizes=(10, 100, 1000)) -> dict[str, tuple[float, float, float]]:
    """name ("2-D, 100 objects") -> (median, min, max) ms per frame over interleaved rounds."""
    data = {f"{'3-D' if d3 else '2-D'}, {n} objects": crowd(n, frames, d3) for n in sizes for d3 in (False, True)}
    measured = rounds({name: (lambda f=f: cost_per_frame(f)) for name, f in data.items()}, n_rounds)
    return {name: tuple(1e3 * x for x in median_spread(v)) for name, v in measured.items()}


def quality_table(seeds: int) -> list[tuple[str, float, float, int, int]]:
    """(sequence set, MOTA, IDF1, ID switches, objects) summed/averaged over seeds."""
    rows = []
    dropped = TrackerParams(low_threshold=0.5)  # ByteTrack's ablation: low-score boxes thrown away
    sets = [("crossing (2-D)", crossing_sequence, True, None), ("crossing, low boxes dropped", crossing_sequence, True, dropped),
            ("depth overlap, 3-D", depth_overlap_sequence, True, None), ("depth overlap, 2-D only", depth_overlap_sequence, False, None)]
    for name, make, use3d, params in sets:
        s = [score(seq, run_tracker(seq, params, use_xyz=use3d)) for seq in (make(k) for k in range(seeds))]
        rows.append((name, float(np.mean([x.mota for x in s])), float(np.mean([x.idf1 for x in s])),
                     sum(x.id_switches for x in s), sum(x.objects for x in s)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the cost table (0: skip)")
    ap.add_argument("--seeds", type=int, default=5, help="generated sequences per set for MOTA/IDF1 (0: skip)")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}; {time.strftime('%Y-%m-%d', time.gmtime())}")
    if args.rounds:
        print(f"\ntracker cost per frame, ms: median [min-max] over {args.rounds} interleaved rounds of {args.frames} frames")
        for name, stats in cost_table(args.frames, args.rounds).items():
            print(f"  {name:<22}{fmt(stats):>24}")
    if args.seeds:
        print(f"\nquality on generated sequences (seeds 0-{args.seeds - 1}; motmetrics, IoU >= 0.5)")
        print(f"  {'set':<26}{'MOTA':>8}{'IDF1':>8}{'IDs':>6}{'objects':>9}")
        for name, mota, idf1, ids, objects in quality_table(args.seeds):
            print(f"  {name:<26}{mota:>8.3f}{idf1:>8.3f}{ids:>6}{objects:>9}")


if __name__ == "__main__":
    main()
