"""RLE vs L1 vs heatmap (#13): re-evaluate the shipped RLE models, or rerun the whole study.

    python benchmarks/rle_heads.py [--n 500] [--threads 2]          # shipped models, ~1 min
    python benchmarks/rle_heads.py --study --steps 600 --out runs/rle_study   # all six heads, ~15-30 min on 2 busy cores

The shipped models (models/zoo/rle_study.py, our own, trained on generated data only) run on
onnxruntime (CPU) over a fresh held-out generated split (seed 9): accuracy, ms per crop at batch 1
and 32, parameters, and calibration: observed coverage of the learned density's 1-sigma and
2-sigma regions (radii from the JSON, computed from the flow) and Spearman(sigma, error).
``--study`` trains and measures the three heads per task (pipeline/tools/rle_study.py).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from sensorium.models.data.eyes import eye_batch, gaze_vector
from sensorium.models.data.figures import figure_batch
from sensorium.models.rle import calibration as cal
from sensorium.models.zoo import rle_study

SEED = 9


def _session(name: str, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(rle_study.onnx_path(name)), opts, providers=["CPUExecutionProvider"])


def _ms(session: ort.InferenceSession, batch: int, repeats: int = 30) -> float:
    x = np.random.default_rng(0).random((batch, 64, 64, 3), dtype=np.float32)
    times = []
    for i in range(repeats + 3):
        t = time.perf_counter()
        session.run(None, {"images": x})
        if i >= 3:
            times.append((time.perf_counter() - t) * 1e3 / batch)
    return statistics.median(times)


def _data(name: str, n: int, session: ort.InferenceSession) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    if name == "rle_figures_keypoints":
        images, kp, inside = figure_batch(SEED, 0, n)
        mu, sigma = session.run(None, {"images": images.astype(np.float32) / 255})
        residual = (kp / 64 - 0.5 - mu)[inside]
        error = np.linalg.norm(residual, axis=1) * 64
        return residual, sigma[inside], error, (f"mean error {error.mean():.2f} px, PCK@0.05 {np.mean(error <= 3.2):.3f}, "
                                                f"PCK@0.1 {np.mean(error <= 6.4):.3f}")
    images, gaze = eye_batch(SEED, 0, n)
    mu, sigma = session.run(None, {"images": images.astype(np.float32) / 255})
    error = np.degrees(np.arccos(np.clip(np.sum(gaze_vector(*gaze.T) * gaze_vector(*mu.T), -1), -1, 1)))
    return gaze - mu, sigma, error, f"mean angular error {error.mean():.2f} deg (median {np.median(error):.2f})"


def shipped(n: int, threads: int) -> None:
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, "
          f"onnxruntime {ort.__version__} CPU, {threads} thread(s), held-out seed {SEED}, n={n}")
    for name in rle_study.MODELS:
        session = _session(name, threads)
        meta = rle_study.load_meta(name)
        residual, sigma, error, acc = _data(name, n, session)
        params = sum(int(np.prod(i.dims)) for i in onnx.load(str(rle_study.onnx_path(name))).graph.initializer)
        print(f"\n{name}: {acc}")
        print(f"  cost: {_ms(session, 1):.2f} ms/crop at batch 1, {_ms(session, 32):.2f} ms/crop at batch 32, {params:,} parameters")
        for label, p in (("1-sigma", cal.ONE_SIGMA), ("2-sigma", cal.TWO_SIGMA)):
            print(f"  {label} region of the learned density: {cal.coverage(residual, sigma, rle_study.radius_for(meta, p)):.3f} "
                  f"observed vs {p:.3f} nominal")
        print(f"  Spearman(sigma, error) {cal.spearman(sigma.mean(1), error):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--study", action="store_true", help="train and measure all three heads per task")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--out", type=Path, default=Path("runs/rle_study"))
    args = parser.parse_args()
    if args.study:
        from sensorium.pipeline.tools.rle_study import main as study

        study(["--out", str(args.out), "--steps", str(args.steps), "--threads", str(args.threads)])
    else:
        shipped(args.n, args.threads)


if __name__ == "__main__":
    main()
