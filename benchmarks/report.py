"""What the run report and the Rerun sink cost per frame, and the report at the end.

    SENSORIUM_DATA=/work/shared/data python benchmarks/report.py [--frames 60] [--rounds 3]

A typical VGA frame: a real Redwood RGB-D frame with its depth map and a 5,000-point cloud,
10 detections (lifted to 3-D, tracked), 2 faces, 2 skeletons with sigma. Per frame, the
minimum and median over rounds of ``frames`` frames: the report's collection
(``RunRecorder.write``), the Rerun sink's logging with JPEG images (the default) and raw;
then the seconds ``write_report`` takes for what was collected (contact sheet included),
and the .rrd size per frame. Minima are quoted: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from sensorium.pipeline.io.sinks import RerunSink  # noqa: E402
from sensorium.pipeline.report import RunRecorder, write_report  # noqa: E402
from sensorium.stages.camera import Intrinsics  # noqa: E402
from sensorium.stages.frame import Frame  # noqa: E402
from sensorium.stages.results import Depth, Detections, Faces, Keypoints  # noqa: E402
from sensorium.stages.results.tracks import Tracks  # noqa: E402


def typical_frame(root: Path, seq: int) -> Frame:
    rng = np.random.default_rng(seq)
    image = cv2.cvtColor(cv2.imread(str(root / "color" / f"{seq % 5:05d}.jpg")), cv2.COLOR_BGR2RGB)
    depth = cv2.imread(str(root / "depth" / f"{seq % 5:05d}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
    K = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
    v, u = rng.integers(0, 480, 5000), rng.integers(0, 640, 5000)
    z = np.maximum(depth[v, u], 0.5)
    points = np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], 1).astype(np.float32)
    xy = rng.uniform(0, 500, (10, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(20, 140, (10, 2))], 1).astype(np.float32)
    xyz = rng.uniform(0.5, 3, (10, 3)).astype(np.float32)
    det = Detections(boxes=boxes, scores=rng.uniform(0.3, 1, 10).astype(np.float32), class_id=rng.integers(0, 5, 10),
                     class_names=("a", "b", "c", "d", "e"), xyz=xyz, extent=np.full((10, 3), 0.4, np.float32))
    traj = np.repeat(xyz[:, None], 8, axis=1) + rng.normal(0, 0.02, (10, 8, 3)).astype(np.float32)
    tracks = Tracks(track_id=np.arange(10), boxes=boxes, scores=det.scores, class_id=det.class_id, state=np.zeros(10, np.int64),
                    item=np.arange(10), age=np.full(10, seq), xyz=xyz, trajectory=traj.astype(np.float32), of="detect")
    faces = Faces(boxes=boxes[:2], scores=det.scores[:2], landmarks=rng.uniform(0, 400, (2, 5, 2)).astype(np.float32),
                  similarity=np.array([0.7, 0.4], np.float32), data={"identity": np.array(["ada", None], dtype=object)})
    pose = Keypoints(xy=rng.uniform(0, 480, (2, 17, 2)).astype(np.float32), sigma=rng.uniform(1, 6, (2, 17, 2)).astype(np.float32),
                     scores=rng.uniform(0, 1, (2, 17)).astype(np.float32))
    return Frame("room", seq, image=image, calib=Intrinsics(K, 640, 480), timings={"depth": 0.02, "detect": 0.03 + 0.001 * seq},
                 results={"depth": Depth(depth=depth, confidence=(depth > 0).astype(np.float32), K=K, points=points,
                                         colors=image[v, u]), "detect": det, "track": tracks, "face": faces, "pose": pose})


def per_frame_ms(make, frames: list[Frame], rounds: int) -> tuple[list[float], object]:
    times, last = [], None
    for _ in range(rounds):
        sink = make()
        for frame in frames:
            t0 = time.perf_counter()
            sink.write(frame)
            times.append(1000 * (time.perf_counter() - t0))
        last = sink
        if hasattr(sink, "close"):
            sink.close()
    return times, last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = Path(os.environ.get("SENSORIUM_DATA", "../shared/data")) / "rgbd" / "redwood"
    frames = [typical_frame(root, i) for i in range(args.frames)]
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name, make in (("report collection", lambda: RunRecorder()),
                           ("rerun, JPEG 90", lambda: RerunSink(Path(tmp) / "jpeg")),
                           ("rerun, raw images", lambda: RerunSink(Path(tmp) / "raw", jpeg_quality=0))):
            per_frame_ms(make, frames[:3], 1)  # warm-up: imports, first allocations
            times, _ = per_frame_ms(make, frames, args.rounds)
            rows.append((name, min(times), statistics.median(times)))
        recorder = RunRecorder()
        for frame in frames:
            recorder.write(frame)
        write_report(Path(tmp) / "warm", recorder, {})  # matplotlib's import and font cache
        t0 = time.perf_counter()
        path = write_report(Path(tmp) / "report", recorder, {"frames": {"room": len(frames)}})
        end_s = time.perf_counter() - t0
        sizes = {d: (Path(tmp) / d / "run.rrd").stat().st_size / len(frames) / 1e3 for d in ("jpeg", "raw")}
        print(f"{args.frames} VGA frames x {args.rounds} rounds; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'per frame':<22}{'min ms':>9}{'median ms':>11}")
        for name, lo, med in rows:
            print(f"{name:<22}{lo:>9.2f}{med:>11.2f}")
        print(f"write_report at the end: {end_s:.2f} s ({path.stat().st_size / 1e3:.0f} kB); "
              f"run.rrd per frame: {sizes['jpeg']:.0f} kB with JPEG, {sizes['raw']:.0f} kB raw")


if __name__ == "__main__":
    main()
