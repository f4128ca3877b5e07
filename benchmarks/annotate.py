"""Drawing benchmark: what ``FrameAnnotator`` costs per frame for a typical frame, side by side
with no drawing.

    python benchmarks/annotate.py [--frames 50] [--rounds 7] [--size 640x480]

The typical frame (the #18 budget: < 5 ms at VGA) is a real photo with 10 detections lifted
to 3-D (box, label with class, score and distance), 2 recognised faces (box, 5 landmarks,
name and similarity), 2 COCO-17 skeletons with a 1-sigma ellipse per joint and 1 gaze with
its cone. "no drawing" renders the same frame with no results (the copy every sink makes);
"each kind" rows draw one kind alone; "+ depth panel" adds a depth map beside the image
(colour map, resize, colour bar), which is not in the budget. Each round runs every
configuration once (order reversed every other round, benchmarks/interleave.py) and records
the mean per frame over ``--frames`` frames, in this process's CPU time (what the drawing
costs, whatever else the machine runs) and in wall time; the table gives the median over
rounds and its spread [min-max]. OpenCV runs on one thread, as in a sink.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interleave import fmt, median_spread, rounds  # noqa: E402

from sensorium.pipeline.draw import FrameAnnotator  # noqa: E402
from sensorium.stages.frame import Frame  # noqa: E402
from sensorium.stages.results import Depth, Detections, Faces, Gaze, Keypoints  # noqa: E402

#: COCO-17 skeleton (joint index pairs)
COCO_SKELETON = [(15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9), (8, 10),
                 (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)]
#: a standing person's COCO-17 joints in a unit box (x right, y down)
_POSE = np.array([[.5, .08], [.54, .06], [.46, .06], [.58, .08], [.42, .08], [.66, .22], [.34, .22], [.72, .38], [.28, .38],
                  [.74, .52], [.26, .52], [.61, .55], [.39, .55], [.62, .76], [.38, .76], [.63, .96], [.37, .96]], np.float32)


def photo(data_dir: Path, w: int, h: int) -> np.ndarray:
    """The bundled zidane.jpg, resized to (h, w, 3) uint8 RGB."""
    image = cv2.cvtColor(cv2.imread(str(data_dir / "photos" / "zidane.jpg")), cv2.COLOR_BGR2RGB)
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


def typical_results(w: int, h: int, seed: int = 0) -> dict[str, object]:
    """10 lifted detections, 2 named faces, 2 skeletons with sigma, 1 gaze with sigma, at (w, h)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform([0, 0], [0.8 * w, 0.7 * h], (10, 2))
    wh = rng.uniform([0.05 * w, 0.1 * h], [0.2 * w, 0.3 * h], (10, 2))
    det = Detections(boxes=np.hstack([xy, xy + wh]).astype(np.float32), scores=rng.uniform(0.3, 1, 10).astype(np.float32),
                     class_id=rng.integers(0, 5, 10), xyz=rng.uniform([-2, -1, 1], [2, 1, 8], (10, 3)).astype(np.float32),
                     class_names=("person", "car", "chair", "cup", "dog"))
    people = [(0.15 * w, 0.1 * h, 0.35 * w, 0.9 * h), (0.6 * w, 0.15 * h, 0.8 * w, 0.95 * h)]
    pose = np.stack([np.array([x0, y0]) + _POSE * [x1 - x0, y1 - y0] for x0, y0, x1, y1 in people]).astype(np.float32)
    kps = Keypoints(xy=pose, sigma=rng.uniform(2, 12, (2, 17, 2)).astype(np.float32), scores=rng.uniform(0.5, 1, (2, 17)).astype(np.float32),
                    boxes=np.array(people, np.float32), metadata={"skeleton": COCO_SKELETON})
    side = 0.12 * (people[0][2] - people[0][0]) * 3
    heads = np.array([[pose[i, 0, 0] - side / 2, pose[i, 0, 1] - side / 2, pose[i, 0, 0] + side / 2, pose[i, 0, 1] + side / 2]
                      for i in range(2)], np.float32)
    marks = np.stack([heads[:, :2] + (heads[:, 2:] - heads[:, :2]) * f for f in ([.3, .4], [.7, .4], [.5, .6], [.35, .8], [.65, .8])], 1)
    faces = Faces(boxes=heads, scores=np.array([0.95, 0.9], np.float32), landmarks=marks.astype(np.float32),
                  similarity=np.array([0.71, 0.64], np.float32), data={"identity": np.array(["ada", "grace"], dtype=object)})
    gaze = Gaze(yaw_pitch=np.array([[0.4, -0.2]], np.float32), sigma=np.array([[0.12, 0.08]], np.float32),
                origin=marks[:1, 2].astype(np.float32))
    return {"detect": det, "face": faces, "pose": kps, "gaze": gaze}


def depth_map(w: int, h: int) -> Depth:
    """A tilted floor and a box, metres, with a hole: stands in for a depth stage's result."""
    v = np.linspace(1, 0, h, dtype=np.float32)[:, None]
    depth = np.broadcast_to(0.8 + 6 * v, (h, w)).copy()
    depth[h // 3: 2 * h // 3, w // 3: 2 * w // 3] = 1.2
    depth[: h // 10, : w // 10] = 0
    return Depth(depth=depth, confidence=(depth > 0).astype(np.float32), K=np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1.0]]))


def per_frame(draw: FrameAnnotator, frame: Frame, n: int, clock=time.process_time) -> float:
    """Mean seconds per frame over ``n`` renders (after one warm-up), by ``clock``."""
    draw(frame)
    start = clock()
    for _ in range(n):
        draw(frame)
    return (clock() - start) / n


def configurations(image: np.ndarray) -> dict[str, Frame]:
    h, w = image.shape[:2]
    results = typical_results(w, h)
    out = {"no drawing": Frame("bench", 0, image=image), "typical frame": Frame("bench", 0, image=image, results=results)}
    for name, result in results.items():
        out[f"  {name} alone"] = Frame("bench", 0, image=image, results={name: result})
    out["typical + depth panel"] = Frame("bench", 0, image=image, results={**results, "depth": depth_map(w, h)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--size", default="640x480", help="WxH")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    data_dir = Path(os.environ.get("SENSORIUM_DATA", "/work/shared/data"))
    cv2.setNumThreads(1)  # drawing runs in a sink's one thread; a shared machine's other cores are not ours
    frames = configurations(photo(data_dir, w, h))
    draw = FrameAnnotator()
    clocks = {"cpu": time.process_time, "wall": time.perf_counter}
    measures = {(name, c): (lambda f=f, c=c: per_frame(draw, f, args.frames, clocks[c])) for name, f in frames.items() for c in clocks}
    measured = rounds(measures, args.rounds)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"OpenCV {cv2.__version__}, numpy {np.__version__}; load {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"\nms per {w}x{h} frame: median [min-max] over {args.rounds} interleaved rounds of {args.frames} frames;")
    print("CPU: this process's CPU time (what drawing costs; a loaded machine inflates wall time)")
    print(f"  {'configuration':<26}{'CPU':>22}{'CPU minus no drawing':>26}{'wall':>22}")
    for name in frames:
        cpu, wall = measured[(name, "cpu")], measured[(name, "wall")]
        extra = median_spread([1e3 * (a - b) for a, b in zip(cpu, measured[("no drawing", "cpu")])])
        ms = [tuple(1e3 * x for x in median_spread(v)) for v in (cpu, wall)]
        print(f"  {name:<26}{fmt(ms[0]):>22}{'' if name == 'no drawing' else fmt(extra):>26}{fmt(ms[1]):>22}")


if __name__ == "__main__":
    main()
