"""The RLE vs L1 vs heatmap study of issue #13: train, evaluate on held-out generated data, plot.

For each task (``figures``: 14 keypoints of rendered stick figures; ``eyes``: gaze of rendered
eyes) three heads are trained on one backbone with one budget (models/training/rle_heads.py) and
measured on a held-out split (another seed: no sample is shared):

- accuracy: keypoint mean error (px of the 64 px crop) and PCK@0.05/0.1 of the crop side; gaze
  mean angular error (degrees);
- cost: parameters and torch CPU ms per crop (batch 1, median);
- calibration: for RLE, coverage of the learned density's p-regions (``RLELoss.coverage_radius``,
  from the flow G alone: no held-out data is used to set them) and of its k-sigma boxes against
  ``predicted_coverage(k)``; for L1 (no signal: a constant scale) and heatmap (the softmax's
  spread) the p-regions are quantiles of a separate calibration split, the best such heads can do
  post hoc. Spearman of the per-point signal with the error size says whether the signal ranks
  errors at all. One reliability diagram (observed vs nominal coverage) per task and head.

Writes ``results.json`` and ``docs/img/rle_<task>_<head>.png``; ``ship_dir`` also exports the two
RLE models to ONNX with their calibration (models/zoo/rle_study.py registers them). Run:
``python -m sensorium.pipeline.tools.rle_study --out runs/rle_study --ship models/zoo/weights``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sensorium.models.data.eyes import EyesConfig, eye_batch, gaze_vector
from sensorium.models.data.figures import FiguresConfig, figure_batch
from sensorium.models.rle import calibration as cal
from sensorium.models.training.rle_heads import (KINDS, TASKS, BoxMass, HeadLoss, HeadModel, HeadsConfig, box_mass, coverage_radii, fit_density,
                                                 parameter_count, predict, train_head)

log = logging.getLogger(__name__)

#: split seeds: training, calibration (post-hoc radii of the non-RLE heads), held-out test
TRAIN_SEED, CALIB_SEED, TEST_SEED = 0, 1, 2
IMG_DIR = Path("docs/img")


@dataclass(frozen=True)
class StudyConfig:
    """tasks and heads to run; train/calib/test sizes (samples); steps and batch size per head
    (same for all); latency_runs: timed batch-1 runs per head (a smoke run needs few)."""

    tasks: tuple[str, ...] = TASKS
    kinds: tuple[str, ...] = KINDS
    train_size: int = 4000
    calib_size: int = 500
    test_size: int = 1000
    steps: int = 1200
    batch_size: int = HeadsConfig.batch_size
    latency_runs: int = 30
    seed: int = 0


@dataclass(frozen=True)
class Split:
    """images (N, 64, 64, 3) uint8; targets (N, K, 2) normalised or (N, 2) radians; weights of
    targets' shape (1 = labelled)."""

    images: np.ndarray
    targets: np.ndarray
    weights: np.ndarray


def make_split(task: str, seed: int, n: int) -> Split:
    """``n`` generated samples of ``task`` from split ``seed``, as the heads take them."""
    if task == "figures":
        images, kp, inside = figure_batch(seed, 0, n, FiguresConfig())
        targets = kp / FiguresConfig().size - 0.5
        return Split(images, targets.astype(np.float32), np.repeat(inside[..., None], 2, -1).astype(np.float32))
    if task == "eyes":
        images, gaze = eye_batch(seed, 0, n, EyesConfig())
        return Split(images, gaze, np.ones_like(gaze))
    raise ValueError(f"task: expected one of {TASKS}, got {task!r}")


def _points(task: str, split: Split, mu: np.ndarray, signal: np.ndarray | None) -> dict[str, np.ndarray]:
    """Flatten to labelled points: residual (P, 2) in model units, scale (P, 2), error (P,) in
    px or degrees."""
    if task == "figures":
        keep = split.weights[..., 0] > 0
        residual = (split.targets - mu)[keep]
        error = np.linalg.norm(residual, axis=1) * FiguresConfig().size
        scale = signal[keep] if signal is not None else np.ones_like(residual)
    else:
        residual = split.targets - mu
        cos = np.sum(gaze_vector(*split.targets.T) * gaze_vector(*mu.T), -1)
        error = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        scale = signal if signal is not None else np.ones_like(residual)
    return {"residual": residual.astype(np.float64), "scale": scale.astype(np.float64), "error": error}


def accuracy(task: str, error: np.ndarray) -> dict[str, float]:
    """Mean error, and for keypoints PCK at 5% and 10% of the crop side."""
    if task == "figures":
        size = FiguresConfig().size
        return {"mean_error_px": float(error.mean()), "median_error_px": float(np.median(error)),
                "pck@0.05": float(np.mean(error <= 0.05 * size)), "pck@0.1": float(np.mean(error <= 0.1 * size))}
    return {"mean_angular_error_deg": float(error.mean()), "median_angular_error_deg": float(np.median(error))}


def density_table(loss: HeadLoss) -> BoxMass | None:
    """The learned flow density G of an RLE head's loss tabulated once (None for the other heads):
    its p-regions' box half-widths and k-sigma boxes' coverage (no held-out data used)."""
    return box_mass(loss.rle) if loss.rle is not None else None


def calibration(kind: str, test: dict[str, np.ndarray], calib: dict[str, np.ndarray], density: BoxMass | None) -> tuple[dict[str, Any], cal.Reliability]:
    """Coverage, Spearman and the reliability curve of one head (``density``: an RLE head's G)."""
    ps = cal.RELIABILITY_PS + (cal.ONE_SIGMA, cal.TWO_SIGMA)
    if kind == "rle":
        assert density is not None
        radii = density.radii(ps)
        source = "learned density G (RLELoss.coverage_radius)"
    else:
        radii = [cal.empirical_radius(calib["residual"], calib["scale"], p) for p in ps]
        source = "quantiles of the calibration split" + (" (constant scale: L1 has no signal)" if kind == "l1" else " (softmax spread)")
    curve = cal.reliability(test["residual"], test["scale"], radii[:-2], cal.RELIABILITY_PS)
    out: dict[str, Any] = {
        "regions_from": source,
        "spearman_signal_error": cal.spearman(test["scale"].mean(1), test["error"]),
        "coverage_1sigma_region": {"nominal": cal.ONE_SIGMA, "observed": cal.coverage(test["residual"], test["scale"], radii[-2]), "radius": radii[-2]},
        "coverage_2sigma_region": {"nominal": cal.TWO_SIGMA, "observed": cal.coverage(test["residual"], test["scale"], radii[-1]), "radius": radii[-1]},
        "reliability": curve.to_json(), "reliability_max_gap": curve.max_gap,
    }
    if density is not None:
        out["k_sigma_boxes"] = {str(k): {"predicted": density.coverage(k),
                                         "observed": cal.coverage(test["residual"], test["scale"], k)} for k in (1.0, 2.0)}
    return out, curve


def latency_ms(model: HeadModel, runs: int = 30) -> float:
    """Median torch CPU time of one 64x64 crop (batch 1), milliseconds."""
    x = torch.rand(1, 64, 64, 3)
    times = []
    with torch.inference_mode():
        for i in range(runs + 3):
            t = time.perf_counter()
            model(x)
            if i >= 3:
                times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def plot_reliability(curves: dict[str, cal.Reliability], title: str, path: Path) -> Path:
    """Observed vs nominal coverage (the diagonal is calibrated) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="calibrated")
    for label, curve in curves.items():
        ax.plot(curve.nominal, curve.observed, marker="o", ms=3, label=f"{label} (max gap {curve.max_gap:.2f})")
    ax.set(xlabel="nominal coverage p", ylabel="observed share inside the p-region", xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def run_task(task: str, study: StudyConfig, img_dir: Path) -> tuple[dict[str, Any], dict[str, tuple[HeadModel, BoxMass | None, HeadsConfig]]]:
    """Train and evaluate every head of one task: (results by head, (model, its G tabulated, config) by head)."""
    t0 = time.perf_counter()
    train, calib, test = (make_split(task, seed, n) for seed, n in
                          ((TRAIN_SEED, study.train_size), (CALIB_SEED, study.calib_size), (TEST_SEED, study.test_size)))
    log.info("%s: data in %.1f s", task, time.perf_counter() - t0)
    results, models = {}, {}
    for kind in study.kinds:
        config = HeadsConfig(task=task, steps=study.steps, batch_size=study.batch_size, seed=study.seed)
        t0 = time.perf_counter()
        model, loss = train_head(config, kind, train.images, train.targets, train.weights,
                                 on_step=lambda step, value: step % 100 or log.info("%s/%s step %d loss %.4f", task, kind, step, value))
        train_s = time.perf_counter() - t0
        test_pts, calib_pts = (_points(task, s, *predict(model, s.images)) for s in (test, calib))
        density = density_table(loss)
        calib_out, curve = calibration(kind, test_pts, calib_pts, density)
        results[kind] = {"accuracy": accuracy(task, test_pts["error"]), "calibration": calib_out,
                         "parameters": parameter_count(model), "torch_cpu_ms_per_crop": latency_ms(model, study.latency_runs),
                         "train_seconds": round(train_s, 1)}
        plot_reliability({kind: curve}, f"{task}: {kind} head", img_dir / f"rle_{task}_{kind}.png")
        models[kind] = (model, density, config)
        log.info("%s/%s: %s", task, kind, json.dumps(results[kind]["accuracy"]))
    return results, models


def run_study(study: StudyConfig, out: Path, img_dir: Path = IMG_DIR, ship_dir: Path | None = None) -> dict[str, Any]:
    """The whole study; writes ``out/results.json`` and the PNGs; returns the results."""
    torch.manual_seed(study.seed)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"study": dataclasses.asdict(study), "command": " ".join(shlex.quote(a) for a in sys.argv),
                               "torch_threads": torch.get_num_threads(), "tasks": {}}
    for task in study.tasks:
        results["tasks"][task], models = run_task(task, study, img_dir)
        if ship_dir is not None and "rle" in models:
            from sensorium.models.zoo.rle_study import RADIUS_PS, export_rle_model

            model, density, config = models["rle"]
            assert density is not None  # an RLE head's G
            radii = dict(zip(RADIUS_PS, density.radii(RADIUS_PS)))
            export_rle_model(model, radii, config, ship_dir, results["tasks"][task]["rle"], results["command"])
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def recalibrate_shipped(ship_dir: Path, calib_size: int = 500, test_size: int = 1000) -> dict[str, Any]:
    """Refit the learned density G of each shipped RLE model on the calibration split (seed
    CALIB_SEED; the ONNX head frozen, see ``fit_density``) and rewrite its JSON's radii; the old
    radii (G as trained with the head) stay in ``coverage_radius_training_flow``. Returns, per
    model, the test split's (TEST_SEED) coverage under both densities."""
    import onnxruntime as ort

    from sensorium.models.zoo.rle_study import MODELS, RADIUS_PS

    report = {}
    for name, (task, stem) in MODELS.items():
        session = ort.InferenceSession(str(ship_dir / f"{stem}.onnx"), providers=["CPUExecutionProvider"])
        pts = {}
        for label, seed, n in (("calib", CALIB_SEED, calib_size), ("test", TEST_SEED, test_size)):
            split = make_split(task, seed, n)
            mu, sigma = session.run(None, {"images": split.images.astype(np.float32) / 255.0})
            pts[label] = _points(task, split, mu, sigma)
        density = fit_density(pts["calib"]["residual"] / pts["calib"]["scale"])
        radii = dict(zip(RADIUS_PS, coverage_radii(density, RADIUS_PS)))
        meta_path = ship_dir / f"{stem}.json"
        meta = json.loads(meta_path.read_text())
        meta.setdefault("coverage_radius_training_flow", meta["coverage_radius"])
        meta["coverage_radius"] = {f"{p:.4f}": k for p, k in sorted(radii.items())}
        meta["density"] = (f"flow G refit by maximum likelihood on the normalised residuals of the calibration split "
                           f"(seed {CALIB_SEED}, n={calib_size}), head frozen: pipeline/tools/rle_study.recalibrate_shipped")
        meta_path.write_text(json.dumps(meta, indent=2))
        report[name] = {label: {f"{p}": cal.coverage(pts["test"]["residual"], pts["test"]["scale"], float(table[f"{p:.4f}"]))
                                for p in (cal.ONE_SIGMA, cal.TWO_SIGMA)}
                        for label, table in (("training_flow", meta["coverage_radius_training_flow"]), ("refit", meta["coverage_radius"]))}
        log.info("%s: test coverage %s", name, json.dumps(report[name]))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--img-dir", type=Path, default=IMG_DIR)
    parser.add_argument("--ship", type=Path, default=None, help="export the RLE models (ONNX + JSON) here")
    parser.add_argument("--steps", type=int, default=StudyConfig.steps)
    parser.add_argument("--train-size", type=int, default=StudyConfig.train_size)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--recalibrate", type=Path, default=None, help="only refit the shipped models' densities in this folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.recalibrate is not None:
        report = recalibrate_shipped(args.recalibrate)
        (args.out / "recalibration.json").parent.mkdir(parents=True, exist_ok=True)
        (args.out / "recalibration.json").write_text(json.dumps(report, indent=2))
        return
    study = StudyConfig(tasks=tuple(args.tasks.split(",")), steps=args.steps, train_size=args.train_size)
    run_study(study, args.out, args.img_dir, args.ship)


if __name__ == "__main__":
    main()
