"""Detection benchmark: the shipped DETR on onnxruntime vs torch eager, per 640x480 image.

    python benchmarks/detect.py [--repeats 20] [--threads 2] [--weights models/weights/detr_spp_shapes.pt]

Times the model call only (pre-processing is the same numpy code for both and is timed on
its own): a 640x480 frame resized by the stage's policy (shorter side 192, longer <= 320 →
192x256), batches of 1 and 4. Median and minimum of ``--repeats`` round-robin runs after a
warm-up; on a shared machine the minimum is the better estimate of the cost.
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

from sensorium.models.detr_models import WEIGHTS_FILE, export_detr_onnx, load_trained_detr
from sensorium.models.runtime import OnnxModel, RuntimeConfig
from sensorium.stages.detect import DetectConfig, preprocess


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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = load_trained_detr(args.weights)
    cfg = DetectConfig()
    with tempfile.TemporaryDirectory() as tmp:
        session = OnnxModel(export_detr_onnx(model, Path(tmp) / "detr.onnx"),
                            RuntimeConfig(providers=("cpu",), intra_op_threads=args.threads, warmup_runs=1))
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    print(f"# {cpu_model()}, {os.cpu_count()} cores, {args.threads} threads; torch {torch.__version__}; "
          f"{datetime.date.today()}; {args.repeats} repeats")
    pre = timed({"pre": lambda: preprocess([frame], min_size=cfg.min_size, max_size=cfg.max_size)}, args.repeats)["pre"]
    print(f"pre-processing 640x480 → 192x256: {min(pre):.2f} ms (median {statistics.median(pre):.2f})")
    print("| batch | onnxruntime ms/image (min / median) | torch eager ms/image (min / median) | torch / ort |")
    print("|---:|---:|---:|---:|")
    for batch in (1, 4):
        images, mask = preprocess([frame] * batch, min_size=cfg.min_size, max_size=cfg.max_size)
        ti, tm = torch.from_numpy(images), torch.from_numpy(mask)

        def run_torch() -> object:
            with torch.inference_mode():
                return model(ti, tm)

        t = timed({"ort": lambda: session.run({"images": images, "mask": mask}), "torch": run_torch}, args.repeats)
        o, e = (np.array(t[k]) / batch for k in ("ort", "torch"))
        print(f"| {batch} | {o.min():.1f} / {np.median(o):.1f} | {e.min():.1f} / {np.median(e):.1f} | {e.min() / o.min():.2f}x |")


if __name__ == "__main__":
    main()
