"""3D lifting: each 2D detection gets a metric position and size from the depth behind it.

A box holds the object and whatever is behind or beside it, so the depth samples inside a box
are a mixture. The object is the depth cluster that dominates the box *centre*: samples are
weighted by a Gaussian around the box centre, a histogram over log-depth (relative bins, so
near and far objects get the same resolution) finds the weighted peak, and the cluster grows
from the peak over neighbouring bins until the histogram drops below a fraction of the peak
(the gap between object and background). The cluster's pixels are back-projected with the
depth camera's intrinsics; position and size come from robust percentiles of those points.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sensorium.stages.results import Depth, Detections


@dataclass(frozen=True)
class LiftConfig:
    """min_points: fewer depth samples in a box → no position (NaN). min_confidence: depth
    samples below it are ignored. bin_log: histogram bin width in log-depth (0.03 ≈ 3 %).
    grow_fraction: the cluster grows over bins holding at least this fraction of the peak.
    centre_sigma: Gaussian weight width as a fraction of the box size. percentile: extent is
    the range between this percentile and its complement, per axis."""

    min_points: int = 20
    min_confidence: float = 0.2
    bin_log: float = 0.03
    grow_fraction: float = 0.1
    centre_sigma: float = 0.3
    percentile: float = 5.0


def lift_detections(dets: Detections, depth: Depth, config: LiftConfig = LiftConfig()) -> Detections:
    """Return ``dets`` with ``xyz``, ``extent`` and ``xyz_spread`` filled (float32 metres).

    Boxes are in the pixels of ``depth`` (the depth map must be registered to the image the
    boxes were found in). xyz: centre of the visible surface's robust bounding box in the depth
    camera frame (X right, Y down, Z forward) — the object's front, not its hidden centre;
    extent: that box's size; xyz_spread: per-axis robust sigma (1.4826·MAD) of the points.
    Boxes with too few usable depth samples get NaN rows (and ``data["depth_points"]`` = 0).
    """
    n = len(dets)
    xyz = np.full((n, 3), np.nan, np.float32)
    extent = np.full((n, 3), np.nan, np.float32)
    spread = np.full((n, 3), np.nan, np.float32)
    counts = np.zeros(n, np.int64)
    h, w = depth.depth.shape
    fx, fy, cx, cy = depth.K[0, 0], depth.K[1, 1], depth.K[0, 2], depth.K[1, 2]
    if not (np.isfinite(fx) and np.isfinite(fy)):
        raise ValueError("depth map has no focal length (uncalibrated stereo): cannot lift to 3D")
    for i, (x1, y1, x2, y2) in enumerate(dets.boxes):
        u0, v0 = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
        u1, v1 = min(int(np.ceil(x2)), w), min(int(np.ceil(y2)), h)
        if u1 <= u0 or v1 <= v0:
            continue
        z = depth.depth[v0:v1, u0:u1]
        ok = (z > 0) & (depth.confidence[v0:v1, u0:u1] >= config.min_confidence)
        if ok.sum() < config.min_points:
            continue
        vv, uu = np.nonzero(ok)
        zs = z[vv, uu].astype(np.float64)
        uu = uu + u0 + 0.5  # pixel centres
        vv = vv + v0 + 0.5
        keep = _dominant_cluster(zs, uu, vv, (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1), (y2 - y1), config)
        if keep.sum() < config.min_points:
            continue
        zk = zs[keep]
        pts = np.stack([(uu[keep] - cx) * zk / fx, (vv[keep] - cy) * zk / fy, zk], axis=1)
        lo, hi = np.percentile(pts, [config.percentile, 100 - config.percentile], axis=0)
        xyz[i] = (lo + hi) / 2
        extent[i] = hi - lo
        spread[i] = 1.4826 * np.median(np.abs(pts - np.median(pts, axis=0)), axis=0)
        counts[i] = keep.sum()
    return replace(dets, xyz=xyz, extent=extent, xyz_spread=spread, data={**dets.data, "depth_points": counts})


def _dominant_cluster(z, u, v, uc, vc, bw, bh, config: LiftConfig) -> np.ndarray:
    """Boolean mask of the depth samples in the centre-weighted dominant log-depth cluster."""
    logz = np.log(z)
    weight = np.exp(-0.5 * (((u - uc) / (config.centre_sigma * bw + 1e-6)) ** 2 + ((v - vc) / (config.centre_sigma * bh + 1e-6)) ** 2))
    lo = logz.min()
    bins = np.floor((logz - lo) / config.bin_log).astype(np.int64)
    hist = np.bincount(bins, weights=weight)
    hist = np.convolve(hist, [0.25, 0.5, 0.25], mode="same")  # one noisy empty bin is no gap
    peak = int(np.argmax(hist))
    floor = config.grow_fraction * hist[peak]
    a = peak
    while a > 0 and hist[a - 1] >= floor:
        a -= 1
    b = peak
    while b + 1 < len(hist) and hist[b + 1] >= floor:
        b += 1
    return (bins >= a) & (bins <= b)
