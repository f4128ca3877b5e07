"""Detection benchmark: the shipped DETR on onnxruntime (fp32 and int8) vs torch eager, per 640x480 image.

    python benchmarks/detect.py [--repeats 20] [--threads 2] [--weights models/weights/detr_spp_shapes.pt] [--eval 200]

Times the model call only (pre-processing is the same numpy code for both and is timed on
its own): a 640x480 frame resized by the stage's policy (shorter side 192, longer <= 320 →
192x256), batches of 1 and 4. Median and minimum of ``--repeats`` round-robin runs after a
warm-up; on a shared machine the minimum is the better estimate of the cost. Then the price
of int8 in accuracy: COCO mAP of the fp32 and int8 graphs on ``--eval`` held-out images.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from sensorium.models.zoo.detr_shapes import SHAPES, WEIGHTS_FILE, export_detr_onnx, load_trained_detr
from sensorium.models.hub.export import quantize_int8
from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig
from sensorium.models.data.shapes import CLASSES
from sensorium.pipeline.tools.eval_detect import coco_ground_truth, coco_map
from sensorium.stages.detect.stage import DetectConfig, from_detr, preprocess, to_coco


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Round-robin timings in ms, so a noisy neighbour hurts every variant alike."""
    for fn in fns.values():
        fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            out[k].append((time.perf_counter() - t) * 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", type=Path, default=WEIGHTS_FILE)
    ap.add_argument("--eval", type=int, default=200, help="held-out images for the fp32 vs int8 mAP (0: skip)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = load_trained_detr(args.weights)
    cfg = DetectConfig(min_size=192, max_size=320)  # the shipped weights' own size
    rc = RuntimeConfig(providers=("cpu",), intra_op_threads=args.threads, warmup_runs=1)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_detr_onnx(model, Path(tmp) / "detr.onnx")
        session = OnnxModel(fp32, rc)
        session_int8 = OnnxModel(quantize_int8(fp32, Path(tmp) / "detr.int8.onnx"), rc)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    print(f"# {cpu_model()}, {os.cpu_count()} cores, {args.threads} threads; torch {torch.__version__}; "
          f"{datetime.date.today()}; {args.repeats} repeats")
    pre = timed({"pre": lambda: preprocess([frame], min_size=cfg.min_size, max_size=cfg.max_size)}, args.repeats)["pre"]
    print(f"pre-processing 640x480 → 192x256: {min(pre):.2f} ms (median {statistics.median(pre):.2f})")
    print("| batch | onnxruntime ms/image (min / median) | ORT int8 ms/image (min / median) | torch eager ms/image (min / median) | torch / ort | torch / ort int8 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for batch in (1, 4):
        images, mask = preprocess([frame] * batch, min_size=cfg.min_size, max_size=cfg.max_size)
        ti, tm = torch.from_numpy(images), torch.from_numpy(mask)

        def run_torch() -> object:
            with torch.inference_mode():
                return model(ti, tm)

        t = timed({"ort": lambda: session.run({"images": images, "mask": mask}),
                   "int8": lambda: session_int8.run({"images": images, "mask": mask}), "torch": run_torch}, args.repeats)
        o, q, e = (np.array(t[k]) / batch for k in ("ort", "int8", "torch"))
        print(f"| {batch} | {o.min():.1f} / {np.median(o):.1f} | {q.min():.1f} / {np.median(q):.1f} | "
              f"{e.min():.1f} / {np.median(e):.1f} | {e.min() / o.min():.2f}x | {e.min() / q.min():.2f}x |")
    if args.eval:
        gt, held_out = coco_ground_truth(split_seed=1000, n=args.eval, shapes=SHAPES)
        print(f"\nheld-out split (seed 1000, {args.eval} images), score threshold 0:")
        print("| graph | mAP | mAP50 | mAP75 |")
        print("|---|---:|---:|---:|")
        for label, s in (("fp32", session), ("int8", session_int8)):
            results = []
            for i, img in enumerate(held_out):
                batch, mask = preprocess([img], min_size=cfg.min_size, max_size=cfg.max_size)
                out = s.run({"images": batch, "mask": mask})
                (dets,) = from_detr(out["logits"], out["boxes"], [img.shape[:2]], CLASSES, score_threshold=0.0,
                                    max_detections=cfg.max_detections)
                results += to_coco(dets, i)
            m = coco_map(gt, results)
            print(f"| {label} | {m['mAP']:.3f} | {m['mAP50']:.3f} | {m['mAP75']:.3f} |")


if __name__ == "__main__":
    main()
