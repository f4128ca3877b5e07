"""Depth benchmark: SGBM speed per VGA frame and accuracy on ground truth.

    python benchmarks/depth.py [--repeats 30] [--threads N]

Prints the machine, the cost of each step of the stage (coarse range pass, SGBM 3-way over the
automatic range, the LR check at half size, half width and full size, confidence, hole filling,
the whole stage under each preset) in ms per 640x480 frame and as ratios to plain SGBM-64, and end-point
error / bad-pixel rates / coverage of each step on the synthetic sample, Middlebury Motorcycle
(scikit-image's copy) and Motorcycle shifted to disparities beyond 64 px, against plain SGBM
with the true range. Timings: each row is timed next to SGBM-64 ``--repeats`` times after a
warm-up, and the median ratio of the adjacent pairs (with its interquartile spread) is the
cost; on a shared machine the absolute ms are inflated by the load, the ratios much less.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import cv2
import numpy as np

from sensorium.pipeline.io.sample import make_sample
from sensorium.stages.depth import range as disparity_range, stereo
from sensorium.stages.depth.cross_check import rank_transform
from sensorium.stages.depth.edge_filter import wls_filter
from sensorium.stages.depth.evaluate import evaluate_disparity
from sensorium.stages.depth.range import DisparityRange
from sensorium.stages.depth.stage import DepthConfig, DepthStage
from sensorium.stages.depth.subpixel import refine_subpixel
from sensorium.stages.frame import Frame


#: ``preset=balanced``'s dense steps spelled out (the default until the eighth round; the rows
#: built on them stay what they say if a preset changes); ``preset=accurate``, the default, switches them all on
BALANCED_STEPS = {"lr_scale": "half", "cross_check": False, "drop_occluded": False, "fill_planes": False, "periodic_guard": False}
#: the fifth round's opt-in set: it reached #15's dense bar on Motorcycle and the sample and broke
#: #18's chessboard test through the full-size LR check (docs/benchmarks.md, fifth round)
OCCLUSION_SET = {**BALANCED_STEPS, "lr_scale": "full", "cross_check": True, "drop_occluded": True, "occlusion_margin": 2.0}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_against(base: Callable[[], object], rows: list[tuple[str, Callable[[], object]]], repeats: int) -> list[dict[str, float]]:
    """Each row timed next to the yardstick, A B then B A: per row the median and minimum ms and
    the median ratio row / yardstick of adjacent pairs with its interquartile spread.

    On a shared machine a burst of load hits both calls of a pair alike, so the per-pair ratio
    is far steadier than either time; the absolute ms are inflated by the load and only the
    ratios carry over to an unloaded machine.
    """
    for _, fn in rows:
        fn()  # warm-up: allocations, OpenCV's thread pool
    base()
    ratios: list[list[float]] = [[] for _ in rows]
    times: list[list[float]] = [[] for _ in rows]
    for i in range(repeats):
        for (_, fn), ts, rs in zip(rows, times, ratios):
            # A B in even rounds, B A in odd ones: the second call of a pair runs slower (caches,
            # OpenCV's pool), and alternating cancels that out of the median ratio
            first, second = (base, fn) if i % 2 == 0 else (fn, base)
            t0 = time.perf_counter()
            first()
            t1 = time.perf_counter()
            second()
            t2 = time.perf_counter()
            t_base, t_row = (t1 - t0, t2 - t1) if i % 2 == 0 else (t2 - t1, t1 - t0)
            ts.append(t_row)
            rs.append(t_row / t_base)
    out = []
    for ts, rs in zip(times, ratios):
        q1, q2, q3 = np.percentile(rs, [25, 50, 75])
        out.append({"median_ms": statistics.median(ts) * 1e3, "min_ms": min(ts) * 1e3, "ratio": float(q2), "q1": float(q1), "q3": float(q3)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's choice)")
    parser.add_argument("--part", choices=("all", "speed", "accuracy", "confidence"), default="all")
    parser.add_argument("--rows", default="", help="only the rows whose label contains one of these |-separated texts (and the yardstick)")
    args = parser.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"# depth benchmark, {datetime.date.today().isoformat()}")
    print(f"machine: {cpu_model()}, {cores} cores usable ({os.cpu_count()} online), load {os.getloadavg()[0]:.2f}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__} ({cv2.getNumThreads()} threads)")

    seq = make_sample(8)
    left, right = seq.lefts[0], seq.rights[0]
    if args.part in ("all", "speed"):
        print_speed(left, right, seq, args.repeats, args.rows)
    if args.part in ("all", "accuracy"):
        print_accuracy(seq, args.rows)
    if args.part in ("all", "confidence"):
        print_confidence(seq)


def auto_range_of(left: np.ndarray, right: np.ndarray) -> DisparityRange:
    """The range the default stage picks for this pair (first frame: no hysteresis)."""
    g_l, g_r = stereo.to_grey(left), stereo.to_grey(right)
    return disparity_range.to_range(*disparity_range.auto_range(disparity_range.coarse_estimate(g_l, g_r, 320), 256), "auto", 256)


def print_speed(left: np.ndarray, right: np.ndarray, seq, repeats: int, only: str = "") -> None:
    grey_l, grey_r = stereo.to_grey(left), stereo.to_grey(right)
    rng = auto_range_of(left, right)
    p64 = stereo.SGBMParams(64, full_width=False)
    pauto = DepthConfig().sgbm(rng)
    disp = stereo.compute_disparity(grey_l, grey_r, pauto)
    lr_err = stereo.lr_consistency(disp, stereo.compute_right_disparity(grey_l, grey_r, pauto))
    checked = np.where(lr_err > 1.0, -1, disp).astype(np.float32)

    def stage_frame(**cfg) -> Callable[[], object]:
        stage = DepthStage(cfg)
        stage.setup()
        return lambda: stage.process([Frame("bench", 0, image=left, right=right, calib=seq.calib)])

    sgbm64 = lambda: p64.matcher().compute(grey_l, grey_r)  # noqa: E731 - the yardstick
    rows = [
        ("SGBM 3-way, 64 disparities (the yardstick itself)", sgbm64),
        ("range: coarse pass at 1/4 scale, [-192, 320)", lambda: disparity_range.coarse_estimate(grey_l, grey_r, 320)),
        (f"SGBM 3-way, auto range [{rng.min_disparity}, {rng.max_disparity}), full width", lambda: stereo.compute_disparity(grey_l, grey_r, pauto)),
        ("  SGBM 3-way, 16 disparities (block 3): a full-size match's floor", lambda: stereo.SGBMParams(16, block_size=3, full_width=False).matcher().compute(grey_l, grey_r)),
        ("  SGBM 3-way, 32 disparities (block 3)", lambda: stereo.SGBMParams(32, block_size=3, full_width=False).matcher().compute(grey_l, grey_r)),
        ("  SGBM 3-way at half size over the auto range (preset=fast's match)", lambda: _half_size_match(grey_l, grey_r, rng)),
        ("LR check: right view at half size + consistency (default)", lambda: stereo.lr_consistency(disp, stereo.compute_right_disparity_scaled(grey_l, grey_r, pauto, 2, 2))),
        ("  right view at half width (lr_scale=half_width)", lambda: stereo.lr_consistency(disp, stereo.compute_right_disparity_scaled(grey_l, grey_r, pauto, 2))),
        ("  right view at full size (lr_scale=full)", lambda: stereo.lr_consistency(disp, stereo.compute_right_disparity(grey_l, grey_r, pauto))),
        ("  match, then half-size right view (one after the other)", lambda: _sequential(grey_l, grey_r, pauto)),
        ("  match + half-size right view in two threads", lambda: _two_threads(grey_l, grey_r, pauto)),
        ("confidence map", lambda: stereo.confidence_map(checked, grey_l, lr_err)),
        ("hole fill: scan line (the default)", lambda: stereo.fill_holes(checked, grey_l, smooth=False)),
        ("  + guided filter (fill_filter=guided)", lambda: stereo.fill_holes(checked, grey_l)),
        ("  WLS edge-aware filter instead (fill_filter=wls)", lambda: wls_filter(grey_l, checked, np.ones_like(checked))),
        ("DepthStage, defaults: preset=accurate (LR full + guard, fill, planes, cross-check, occlusions)", stage_frame()),
        ("DepthStage, preset=balanced (LR half, fill, keep rejected: the default before the eighth round)", stage_frame(preset="balanced")),
        ("DepthStage, preset=accurate without fill_planes", stage_frame(preset="accurate", fill_planes=False)),
        ("DepthStage, preset=accurate without periodic_guard", stage_frame(preset="accurate", periodic_guard=False)),
        ("DepthStage, balanced, lr_scale=half_width", stage_frame(**{**BALANCED_STEPS, "lr_scale": "half_width"})),
        ("DepthStage, balanced, lr_scale=full", stage_frame(**{**BALANCED_STEPS, "lr_scale": "full"})),
        ("DepthStage, num_disparities=64 (the old default)", stage_frame(num_disparities=64)),
        ("DepthStage, no LR check, no fill, no cross-check", stage_frame(lr_check=False, fill_holes=False, cross_check=False)),
        ("DepthStage, balanced + cross_check (a second SGBM on rank-transformed images)", stage_frame(**{**BALANCED_STEPS, "cross_check": True})),
        ("DepthStage, balanced + drop_occluded (occlusion.py)", stage_frame(**{**BALANCED_STEPS, "drop_occluded": True})),
        ("DepthStage, occlusion set: LR full, cross_check, drop_occluded, margin 2", stage_frame(**OCCLUSION_SET)),
        ("DepthStage, balanced, downscale 2", stage_frame(preset="balanced", downscale=2)),
        ("range: coarse pass at 1/8 scale (preset=fast)", lambda: disparity_range.coarse_estimate(grey_l, grey_r, 320, 8)),
        ("DepthStage, preset=fast (half size, half-size LR of it, 1/8 range)", stage_frame(preset="fast")),
        ("DepthStage, preset=fast, subpixel_refine=false", stage_frame(preset="fast", subpixel_refine=False)),
        ("  sub-pixel refit at full size (subpixel.py)", lambda: refine_subpixel(grey_l, grey_r, disp)),
        ("  rank transform of both images", lambda: [rank_transform(g) for g in (grey_l, grey_r)]),
    ]
    print(f"\n## speed, ms per 640x480 frame ({repeats} rounds; each row timed next to SGBM-64, A B / B A)")
    print("ratio: median of row / SGBM-64 over adjacent pairs [25th-75th percentile]; ms are inflated by any load")
    print(f"{'step':60s} {'median':>7s} {'min':>7s} {'x SGBM-64':>10s} {'spread':>12s}")
    rows = [r for i, r in enumerate(rows) if i == 0 or any(o in r[0] for o in only.split("|"))]
    for (name, _), t in zip(rows, time_against(sgbm64, rows, repeats)):
        print(f"{name:60s} {t['median_ms']:7.1f} {t['min_ms']:7.1f} {t['ratio']:10.2f}   [{t['q1']:.2f}-{t['q3']:.2f}]")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


_POOL = ThreadPoolExecutor(1)


def _half_size_match(grey_l: np.ndarray, grey_r: np.ndarray, rng: DisparityRange) -> np.ndarray:
    """SGBM at half width and height over the range halved, as the stage runs it at match_scale 2."""
    h, w = grey_l.shape
    small_l, small_r = (cv2.resize(g, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for g in (grey_l, grey_r))
    return stereo.compute_disparity(small_l, small_r, DepthConfig().sgbm(rng, 2))


def _sequential(grey_l: np.ndarray, grey_r: np.ndarray, params: stereo.SGBMParams) -> object:
    """The stage's order: the left match, then the half-size right one."""
    disp = stereo.compute_disparity(grey_l, grey_r, params)
    return stereo.lr_consistency(disp, stereo.compute_right_disparity_scaled(grey_l, grey_r, params, 2, 2))


def _two_threads(grey_l: np.ndarray, grey_r: np.ndarray, params: stereo.SGBMParams) -> object:
    """The left match and the half-size right one at once (OpenCV releases the GIL)."""
    right = _POOL.submit(stereo.compute_right_disparity_scaled, grey_l, grey_r, params, 2, 2)
    disp = stereo.compute_disparity(grey_l, grey_r, params)
    return stereo.lr_consistency(disp, right.result())


def _shifted(left: np.ndarray, right: np.ndarray, gt: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.ascontiguousarray(left[:, :-s]), np.ascontiguousarray(right[:, s:]), gt[:, :-s] + s


def data_sets(seq) -> list[tuple[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]]:
    """(name, [(left, right, ground-truth disparity)]): the sample, Motorcycle, Motorcycle shifted +80 px."""
    from skimage import data as skdata

    ml, mr, mgt = skdata.stereo_motorcycle()
    return [("synthetic sample (8 frames)", list(zip(seq.lefts, seq.rights, seq.disparities))),
            ("Middlebury Motorcycle", [(ml, mr, mgt)]),
            ("Motorcycle shifted +80 px", [_shifted(ml, mr, mgt, 80)])]


def print_confidence(seq) -> None:
    """How well the confidence ranks bad (> 2 px) pixels of the dense output: ROC AUC, defaults
    against ``cross_check`` and the occlusion set, and the best 95% of the ground truth's pixels
    by confidence."""
    from scipy.stats import rankdata

    print("\n## confidence: ROC AUC of -confidence for bad-2 pixels; the 95% most confident (coverage 95%)")
    for name, frames in data_sets(seq):
        for options in ({"preset": "balanced"}, {**BALANCED_STEPS, "cross_check": True}, OCCLUSION_SET, {}):
            bad, score, cut = [], [], np.zeros(3)
            for a, b, gt in frames:
                (frame,) = DepthStage(options)([Frame("bench", 0, image=a, right=b)])
                d, c = frame.results["depth"].disparity, frame.results["depth"].confidence
                known = np.isfinite(gt) & (gt > 0)
                has = known & (d > 0)
                err, conf = np.abs(d - gt)[has], c[has]
                bad.append(err > 2)
                score.append(-conf)
                n = int(round(0.95 * known.sum()))
                if n <= err.size:
                    best = err[np.argsort(-conf, kind="stable")[:n]]
                    cut += [n, best.sum(), (best > 2).sum()]
            y, r = np.concatenate(bad), rankdata(np.concatenate(score))
            auc = (r[y].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (~y).sum())
            at95 = f"EPE {cut[1] / cut[0]:.3f}, bad-2 {100 * cut[2] / cut[0]:.2f}%" if cut[0] else "(coverage < 95%)"
            print(f"{name:28s} {str(options or 'defaults'):24s} AUC {auc:.3f}   95% most confident: {at95}")


def print_accuracy(seq, only: str = "") -> None:
    """Each step's contribution, and the whole stage with defaults against plain SGBM with the true range."""
    sets = data_sets(seq)
    print("\n## accuracy (coverage = share of GT pixels with an estimate; EPE and bad-pixel rates over those)")
    print(f"{'data':28s} {'output':52s} {'coverage':>9s} {'EPE px':>7s} {'>1px %':>7s} {'>2px %':>7s} {'>4px %':>7s}")
    for name, frames in sets:
        rows: list[tuple[str, Callable]] = [
            ("plain SGBM 3-way, true range (OpenCV as is)", lambda a, b, gt: stereo.compute_disparity(
                a, b, stereo.SGBMParams(_true_range(gt), full_width=False))),
            ("auto range, SGBM (full width)", lambda a, b, gt: stereo.match(a, b, DepthConfig().sgbm(auto_range_of(a, b)), lr_check=False, fill=False).disparity),
            ("auto range, SGBM + LR check (half size, default)", lambda a, b, gt: stereo.match(
                a, b, DepthConfig().sgbm(auto_range_of(a, b)), fill=False, lr_scale="half").disparity),
            ("auto range, SGBM + LR check (half width)", lambda a, b, gt: stereo.match(
                a, b, DepthConfig().sgbm(auto_range_of(a, b)), fill=False, lr_scale="half_width").disparity),
            ("auto range, SGBM + LR check (full size)", lambda a, b, gt: stereo.match(a, b, DepthConfig().sgbm(auto_range_of(a, b)), fill=False).disparity),
            ("DepthStage defaults: preset=accurate (LR full + periodic guard, fill, planes, cross-check, occlusions, margin 4)", lambda a, b, gt: _stage({}, a, b)),
            ("  preset=accurate without fill_planes", lambda a, b, gt: _stage({"preset": "accurate", "fill_planes": False}, a, b)),
            ("  preset=accurate without periodic_guard", lambda a, b, gt: _stage({"preset": "accurate", "periodic_guard": False}, a, b)),
            ("DepthStage preset=balanced (LR half, fill, keep rejected; the default before the eighth round)", lambda a, b, gt: _stage({"preset": "balanced"}, a, b)),
            ("  keep_rejected=false (neighbours fill every hole)", lambda a, b, gt: _stage({**BALANCED_STEPS, "keep_rejected": False}, a, b)),
            ("  fill_filter=guided (the old fill)", lambda a, b, gt: _stage({**BALANCED_STEPS, "fill_filter": "guided"}, a, b)),
            ("  fill_filter=wls", lambda a, b, gt: _stage({**BALANCED_STEPS, "fill_filter": "wls"}, a, b)),
            ("  lr_scale=full (LR check at full size)", lambda a, b, gt: _stage({**BALANCED_STEPS, "lr_scale": "full"}, a, b)),
            ("  lr_scale=half_width (LR check at half width)", lambda a, b, gt: _stage({**BALANCED_STEPS, "lr_scale": "half_width"}, a, b)),
            ("step: + drop_occluded (margin 0)", lambda a, b, gt: _stage({**BALANCED_STEPS, "drop_occluded": True, "occlusion_margin": 0.0}, a, b)),
            ("step: + cross_check (its confirmed pixels kept)", lambda a, b, gt: _stage({**BALANCED_STEPS, "drop_occluded": True, "cross_check": True, "occlusion_margin": 0.0}, a, b)),
            ("step: + lr_scale=full", lambda a, b, gt: _stage({**OCCLUSION_SET, "occlusion_margin": 0.0}, a, b)),
            ("step: + occlusion_margin=2: the occlusion set", lambda a, b, gt: _stage(OCCLUSION_SET, a, b)),
            ("  occlusion set, occlusion_margin=1", lambda a, b, gt: _stage({**OCCLUSION_SET, "occlusion_margin": 1.0}, a, b)),
            ("  occlusion set, occlusion_margin=3", lambda a, b, gt: _stage({**OCCLUSION_SET, "occlusion_margin": 3.0}, a, b)),
            ("  occlusion set without cross_check", lambda a, b, gt: _stage({**OCCLUSION_SET, "cross_check": False}, a, b)),
            ("  occlusion set, lr_scale=half", lambda a, b, gt: _stage({**OCCLUSION_SET, "lr_scale": "half"}, a, b)),
            ("  drop_occluded, margin 2 (no cross-check, half-size LR)", lambda a, b, gt: _stage({**BALANCED_STEPS, "drop_occluded": True, "occlusion_margin": 2.0}, a, b)),
            ("step: occlusion set, occlusion_margin=4", lambda a, b, gt: _stage({**OCCLUSION_SET, "occlusion_margin": 4.0}, a, b)),
            ("step: + periodic_guard", lambda a, b, gt: _stage({**OCCLUSION_SET, "occlusion_margin": 4.0, "periodic_guard": True}, a, b)),
            ("step: + fill_planes: preset=accurate", lambda a, b, gt: _stage({**OCCLUSION_SET, "occlusion_margin": 4.0, "periodic_guard": True,
                                                                            "fill_planes": True}, a, b)),
            ("DepthStage, num_disparities=64 (the old default)", lambda a, b, gt: _stage({"num_disparities": 64}, a, b)),
            ("DepthStage, downscale=2", lambda a, b, gt: _stage({"downscale": 2}, a, b)),
            ("DepthStage, preset=fast", lambda a, b, gt: _stage({"preset": "fast"}, a, b)),
            ("DepthStage, preset=fast, subpixel_refine=false", lambda a, b, gt: _stage({"preset": "fast", "subpixel_refine": False}, a, b)),
            ("DepthStage, downscale=2, subpixel_refine=false", lambda a, b, gt: _stage({"downscale": 2, "subpixel_refine": False}, a, b)),
        ]
        for label, fn in (r for i, r in enumerate(rows) if i == 0 or any(o in r[0] for o in only.split("|"))):
            acc = [evaluate_disparity(fn(a, b, gt), gt) for a, b, gt in frames]
            m = np.array([[s.coverage, s.epe, s.bad1, s.bad2, s.bad4] for s in acc]).mean(axis=0)
            print(f"{name:28s} {label:52s} {m[0] * 100:8.1f}% {m[1]:7.3f} {m[2] * 100:7.2f} {m[3] * 100:7.2f} {m[4] * 100:7.2f}")


def _true_range(gt: np.ndarray) -> int:
    return int(np.ceil((np.nanmax(gt[np.isfinite(gt)]) + 1) / 16) * 16)


def _stage(options: dict, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    (frame,) = DepthStage(options)([Frame("bench", 0, image=left, right=right)])
    if not frame.ok:
        raise RuntimeError(frame.errors)
    return frame.results["depth"].disparity


if __name__ == "__main__":
    main()
