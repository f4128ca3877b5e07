"""Depth benchmark: SGBM speed per VGA frame and accuracy on ground truth.

    python benchmarks/depth.py [--repeats 30] [--threads N]

Prints the machine, the cost of each step (SGBM 3-way at 64 and 128 disparities, the LR
check, confidence, hole filling, the whole stage) in ms per 640x480 frame with ratios to plain
SGBM-64, and end-point error / bad-pixel rates on the synthetic sample and on Middlebury
Motorcycle (scikit-image's copy). Timings: median and minimum of ``--repeats`` round-robin
runs after a warm-up; on a shared machine the minimum is the better estimate of the cost.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from typing import Callable

import cv2
import numpy as np

from sensorium.pipeline.io.sample import make_sample
from sensorium.stages.depth import stereo
from sensorium.stages.depth.stage import DepthStage
from sensorium.stages.frame import Frame


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_rows(rows: list[tuple[str, Callable[[], object]]], repeats: int) -> list[tuple[float, float]]:
    """(median, minimum) milliseconds per row.

    Rows are timed round-robin, one call each per round, so a burst of load from other
    processes hits every row alike instead of whichever happened to be running; the minimum is
    the least disturbed estimate of the cost itself.
    """
    for _, fn in rows:
        fn()  # warm-up: allocations, OpenCV's thread pool
    times: list[list[float]] = [[] for _ in rows]
    for _ in range(repeats):
        for (_, fn), bucket in zip(rows, times):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [(statistics.median(t) * 1000.0, min(t) * 1000.0) for t in times]


def scores(disparity: np.ndarray, gt: np.ndarray) -> tuple[float, float, float, float]:
    known = np.isfinite(gt) & (gt > 0)
    est = known & (disparity > 0)
    err = np.abs(disparity[est] - gt[est])
    return float(est.sum() / known.sum()), float(err.mean()), float((err > 1).mean()), float((err > 2).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's choice)")
    args = parser.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"# depth benchmark, {datetime.date.today().isoformat()}")
    print(f"machine: {cpu_model()}, {cores} cores usable ({os.cpu_count()} online), load {os.getloadavg()[0]:.2f}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__} ({cv2.getNumThreads()} threads)")

    seq = make_sample(8)
    left, right = seq.lefts[0], seq.rights[0]
    grey_l, grey_r = stereo.to_grey(left), stereo.to_grey(right)
    p64, p128 = stereo.SGBMParams(64, full_width=False), stereo.SGBMParams(128, full_width=False)
    p64w = stereo.SGBMParams(64)
    disp = stereo.compute_disparity(left, right, p64w)
    disp_r = stereo.compute_right_disparity(left, right, p64w)
    lr_err = stereo.lr_consistency(disp, disp_r)
    checked = np.where(lr_err > 1.0, -1, disp).astype(np.float32)

    def internal_lr() -> np.ndarray:  # SGBM's own disp12MaxDiff check, for comparison
        m = p64.matcher()
        m.setDisp12MaxDiff(1)
        return m.compute(grey_l, grey_r)

    def stage_frame(**cfg) -> Callable[[], object]:
        stage = DepthStage(cfg)
        stage.setup()
        return lambda: stage.process([Frame("bench", 0, image=left, right=right, calib=seq.calib)])

    rows = [
        ("SGBM 3-way, 64 disparities (OpenCV as is)", lambda: p64.matcher().compute(grey_l, grey_r)),
        ("SGBM 3-way, 128 disparities (OpenCV as is)", lambda: p128.matcher().compute(grey_l, grey_r)),
        ("SGBM 3-way, 64, full width (border padded)", lambda: stereo.compute_disparity(left, right, p64w)),
        ("SGBM 3-way, 64, colour", lambda: stereo.SGBMParams(64, full_width=False, use_colour=True).matcher().compute(left, right)),
        ("SGBM full 8-path (MODE_SGBM), 64", lambda: cv2.StereoSGBM_create(0, 64, 5, P1=200, P2=800, uniquenessRatio=10, speckleWindowSize=100, speckleRange=2, mode=cv2.STEREO_SGBM_MODE_SGBM).compute(grey_l, grey_r)),
        ("LR check: right disparity (mirrored SGBM) + consistency", lambda: stereo.lr_consistency(disp, stereo.compute_right_disparity(left, right, p64w))),
        ("  (SGBM-64 with its own disp12MaxDiff=1 check instead)", internal_lr),
        ("confidence map", lambda: stereo.confidence_map(checked, grey_l, lr_err)),
        ("hole fill (scan line + guided filter)", lambda: stereo.fill_holes(checked, grey_l)),
        ("DepthStage, defaults (full width, LR, fill)", stage_frame()),
        ("DepthStage, no LR check, no fill", stage_frame(lr_check=False, fill_holes=False)),
        ("DepthStage, downscale 2 (match at 320x240)", stage_frame(downscale=2)),
    ]
    print(f"\n## speed, ms per 640x480 frame ({args.repeats} round-robin runs; ratio of minima to SGBM-64's)")
    print(f"{'step':58s} {'median':>7s} {'min':>7s} {'x SGBM-64':>10s}")
    timings = time_rows(rows, args.repeats)
    base = timings[0][1]
    for (name, _), (med, best) in zip(rows, timings):
        print(f"{name:58s} {med:7.1f} {best:7.1f} {best / base:10.2f}")

    plain = p64.matcher().compute(grey_l, grey_r)
    removed = float(((plain > 0) & (internal_lr() <= 0)).mean())
    mirrored = float(((disp > 0) & (lr_err > 1.0)).mean())
    print(f"LR check removes {mirrored * 100:.1f}% of pixels mirrored; SGBM's disp12MaxDiff=1 removes {removed * 100:.2f}% in 3-way mode")

    print("\n## accuracy (coverage = share of GT pixels with an estimate; EPE and bad-pixel rates over those)")
    print(f"{'data':34s} {'output':24s} {'coverage':>9s} {'EPE px':>7s} {'>1px %':>7s} {'>2px %':>7s}")
    from skimage import data as skdata

    ml, mr, mgt = skdata.stereo_motorcycle()
    sets = [("synthetic sample (8 frames, 64 d)", list(zip(seq.lefts, seq.rights, seq.disparities)), stereo.SGBMParams(64)),
            ("Middlebury Motorcycle (128 d)", [(ml, mr, mgt)], stereo.SGBMParams(128))]
    for name, frames, params in sets:
        for label, kw, which in (("SGBM only", dict(lr_check=False, fill=False), "disparity"),
                                 ("+ LR check", dict(lr_check=True, fill=False), "disparity"),
                                 ("+ LR + fill (dense)", dict(lr_check=True, fill=True), "disparity")):
            acc = np.array([scores(getattr(stereo.match(a, b, params, **kw), which), gt) for a, b, gt in frames]).mean(axis=0)
            print(f"{name:34s} {label:24s} {acc[0] * 100:8.1f}% {acc[1]:7.3f} {acc[2] * 100:7.2f} {acc[3] * 100:7.2f}")


if __name__ == "__main__":
    main()
