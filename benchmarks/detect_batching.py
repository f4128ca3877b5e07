"""Detect stage on a batch of 8 mixed-size real images: one padded run (before issue #14)
vs one run per resized shape (now: a frame's detections do not depend on its neighbours).

    SENSORIUM_DATA=/work/shared/data python benchmarks/detect_batching.py [--images mixed|video] [--rounds 15] [--threads 0]

``--images mixed``: 8 real photos of 8 different resized shapes (the worst case for grouping:
8 runs instead of 1). ``--images video``: 8 consecutive frames of ``video/vtest.avi`` (one
shape, as a live source gives: one run either way).

The two configurations are interleaved (ABAB rounds, the order flipped every round) so that
load on a shared machine hits both alike; reported: each one's median seconds per batch, and
the median of the per-round ratios with its interquartile range.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from sensorium.stages.detect.stage import DetectConfig, DetectStage, from_detr, preprocess, resized_shape

IMAGES = ("photos/bus.jpg", "photos/zidane.jpg", "faces/two_people.jpg", "faces/lin-manuel-miranda.png",
          "faces/obama_partial_face.jpg", "gui/2181.jpg", "faces/gallery/biden/biden.jpg", "rgbd/redwood/color/00000.jpg")


def load_images(root: Path) -> list[np.ndarray]:
    out = []
    for rel in IMAGES:
        img = cv2.imread(str(root / rel), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"{root / rel}: not readable (set SENSORIUM_DATA)")
        out.append(np.ascontiguousarray(img[..., ::-1]))
    return out


def video_frames(root: Path, n: int = 8) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(root / "video" / "vtest.avi"))
    frames = []
    while len(frames) < n:
        ok, img = cap.read()
        if not ok:
            raise FileNotFoundError(f"{root / 'video' / 'vtest.avi'}: fewer than {n} frames (set SENSORIUM_DATA)")
        frames.append(np.ascontiguousarray(img[..., ::-1]))
    cap.release()
    return frames


def padded_run(stage: DetectStage, images: list[np.ndarray]) -> list:
    """The stage's detect as it was: one run over the batch padded to its largest image."""
    c = stage.config
    batch, mask = preprocess(images, min_size=stage.resize[0], max_size=stage.resize[1], max_pixels=c.max_pixels, **stage._norm)
    out = stage._model.run({"images": batch, "mask": mask})
    return from_detr(out["logits"], out["boxes"], [img.shape[:2] for img in images], stage._labels,
                     score_threshold=c.score_threshold, max_detections=c.max_detections)


def timed(fn, images) -> float:
    t = time.perf_counter()
    fn(images)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", choices=("mixed", "video"), default="mixed")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    root = Path(os.environ.get("SENSORIUM_DATA", "../shared/data"))
    images = load_images(root) if args.images == "mixed" else video_frames(root)
    stage = DetectStage(DetectConfig(threads=args.threads))
    stage.setup()
    shapes = [resized_shape(*im.shape[:2], *stage.resize) for im in images]
    print(f"{len(images)} images, {len(set(shapes))} resized shapes: {sorted(set(shapes))}")
    configs = {"padded (before)": lambda ims: padded_run(stage, ims), "grouped (now)": stage.detect}
    for fn in configs.values():  # warm-up
        fn(images)
    times: dict[str, list[float]] = {k: [] for k in configs}
    for r in range(args.rounds):
        order = list(configs) if r % 2 == 0 else list(reversed(configs))
        for name in order:
            times[name].append(timed(configs[name], images))
    for name, ts in times.items():
        print(f"{name:16s} median {statistics.median(ts) * 1e3:7.1f} ms/batch  ({len(images) / statistics.median(ts):5.1f} img/s)")
    ratios = sorted(g / p for g, p in zip(times["grouped (now)"], times["padded (before)"]))
    q1, q3 = np.percentile(ratios, [25, 75])
    print(f"grouped/padded time ratio: median {statistics.median(ratios):.2f} (IQR {q1:.2f}-{q3:.2f}, {args.rounds} ABAB rounds)")


if __name__ == "__main__":
    main()
