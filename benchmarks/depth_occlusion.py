"""Where the default depth stage's dense errors lie on Motorcycle: occluded or visible, checked or filled.

    python benchmarks/depth_occlusion.py

#15's must-hold asks the dense output (>= 95% of the ground truth's pixels) for plain SGBM's
EPE and bad-2, which plain SGBM reaches at 86% coverage. This splits the default stage's dense
output on Middlebury Motorcycle (and Motorcycle shifted +80 px) by two masks: *occluded* (from
the ground truth: the left pixel's match lies outside the right image, or the right image sees
a surface more than 1 px nearer there: a z-buffer of the ground truth warped to the right view)
and *checked* (passed the LR check) against *filled*. Then it prints bounds with an oracle:
the dense output if one class of pixels were exactly right, and the best 95% of the ground
truth's pixels when the worst are dropped with the ground truth's knowledge. These bound what
any fill or matcher change can reach; no rule here is a proposal for the stage.

Research code for docs/benchmarks.md (#15, fifth round); nothing here is wired into the stage.
"""

from __future__ import annotations

import numpy as np

from sensorium.stages.depth import range as disparity_range, stereo
from sensorium.stages.depth.stage import DepthConfig, DepthStage
from sensorium.stages.frame import Frame

TARGET_COVERAGE = 0.95


def occlusion_mask(gt: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """Left pixels the right camera cannot see, from a left ground-truth disparity: (H, W) bool.

    A pixel is occluded when ``x - d`` falls left of the right image, or when another pixel of
    its row lands on the same right pixel with a disparity more than ``margin`` larger (it is in
    front). Pixels without ground truth are False.
    """
    h, w = gt.shape
    known = np.isfinite(gt) & (gt > 0)
    ys, xs = np.nonzero(known)
    d = gt[ys, xs].astype(np.float64)
    xr = np.round(xs - d).astype(np.int64)
    inside = xr >= 0
    key = ys * w + np.clip(xr, 0, w - 1)
    nearest = np.full(h * w, -np.inf)
    np.maximum.at(nearest, key[inside], d[inside])
    occ = np.zeros((h, w), bool)
    occ[ys, xs] = ~inside | (d < nearest[key] - margin)
    return occ


def default_maps(left: np.ndarray, right: np.ndarray) -> dict[str, np.ndarray]:
    """The then default stage's (``preset=balanced``) dense disparity, its checked pixels, SGBM's raw answer and the texture floor."""
    (frame,) = DepthStage({"preset": "balanced"})([Frame("bench", 0, image=left, right=right)])
    gl, gr = stereo.to_grey(left), stereo.to_grey(right)
    rng = disparity_range.to_range(*disparity_range.auto_range(disparity_range.coarse_estimate(gl, gr, 320), 256), "auto", 256)
    cfg = DepthConfig(preset="balanced")  # the defaults of the round this measured
    params = cfg.sgbm(rng)
    checked = stereo.match(gl, gr, params, fill=False, lr_scale=cfg.step("lr_scale")).disparity
    return {"dense": frame.results["depth"].disparity, "checked": checked, "raw": stereo.compute_disparity(gl, gr, params),
            "grey": gl, "texture": stereo.texture_confidence(gl, params.block_size)}


def refill_without(m: dict[str, np.ndarray], drop: np.ndarray) -> np.ndarray:
    """The default fill (scan line, rejected textured pixels keep SGBM's value) with ``drop``
    taken out of the checked pixels and given no SGBM value: how the stage would fill them if
    an occlusion detector marked exactly those pixels."""
    checked = np.where(drop, np.float32(-1), m["checked"]).astype(np.float32)
    dense, filled = stereo.fill_holes(checked, m["grey"], smooth=False)
    keep = filled & (m["raw"] > 0) & (m["texture"] >= 1.0) & ~drop
    dense[keep] = m["raw"][keep]
    return dense


def scores(disp: np.ndarray, gt: np.ndarray) -> str:
    """Coverage, EPE and bad-2 of ``disp``; then of its best 95% of the ground truth's pixels."""
    known = np.isfinite(gt) & (gt > 0)
    has = known & (disp > 0)
    err = np.abs(disp - gt)[has]
    text = f"{100 * has.sum() / known.sum():5.1f}% {err.mean():6.3f} {100 * (err > 2).mean():5.2f}%"
    n = int(round(TARGET_COVERAGE * known.sum()))
    if n > err.size:
        return text + "   (below 95%)"
    best = np.sort(err)[:n]
    return text + f"   {best.mean():6.3f} {100 * (best > 2).mean():5.2f}%"


def breakdown(name: str, left: np.ndarray, right: np.ndarray, gt: np.ndarray) -> None:
    m = default_maps(left, right)
    known = np.isfinite(gt) & (gt > 0)
    occ = occlusion_mask(gt)
    dense, checked = m["dense"], m["checked"]
    err = np.abs(dense - gt)
    n = known.sum()
    print(f"\n## {name}: {100 * occ.sum() / n:.1f}% of the ground truth's pixels occluded "
          f"({100 * (occ & (np.arange(gt.shape[1])[None, :] < np.where(known, gt, 0))).sum() / n:.1f}% outside the right image)")
    print(f"{'class':34s} {'% of GT':>8s} {'EPE':>6s} {'bad-2':>6s} {'bad px, % of GT':>16s} {'too near':>9s}")
    for label, mask in (("checked, visible", (checked > 0) & ~occ), ("checked, occluded", (checked > 0) & occ),
                        ("filled, visible", (checked <= 0) & (dense > 0) & ~occ), ("filled, occluded", (checked <= 0) & (dense > 0) & occ),
                        ("unanswered", dense <= 0)):
        sel = known & mask
        if not sel.any():
            continue
        e = err[sel]
        near = (dense - gt)[sel] > 2
        answered = (dense[sel] > 0).any()
        print(f"{label:34s} {100 * sel.sum() / n:7.2f}% " + (f"{e.mean():6.2f} {100 * (e > 2).mean():5.1f}% "
              f"{100 * (e > 2).sum() / n:15.2f}% {100 * near.mean():8.1f}%" if answered else ""))
    refilled = refill_without(m, occ)
    print(f"\n{'output (oracle: uses the ground truth)':64s} {'coverage / EPE / bad-2':>22s}   {'best 95%: EPE / bad-2':>20s}")
    rows = [
        ("defaults (no oracle)", dense),
        ("occluded pixels refilled as holes (true occlusion mask)", refilled),
        ("occluded pixels exactly right, the rest the defaults'", np.where(occ & (dense > 0), gt, dense)),
        ("visible holes exactly right, occluded refilled as holes", np.where(known & ~occ & (refilled > 0) & (checked <= 0), gt, refilled)),
        ("every visible pixel exactly right, occluded refilled as holes", np.where(known & ~occ, gt, refilled)),
    ]
    for label, disp in rows:
        print(f"{label:64s} {scores(disp, gt)}")
    bad = known & occ & (refilled > 0)
    e = refilled[bad] - gt[bad]
    print(f"occluded pixels refilled as holes: {100 * (np.abs(e) > 2).mean():.1f}% bad-2, {100 * (e > 2).mean():.1f}% too near")


def main() -> None:
    from skimage import data as skdata

    ml, mr, mgt = skdata.stereo_motorcycle()
    print("# where the dense errors lie (#15): columns coverage / EPE / bad-2, then the best 95% of the GT's pixels")
    print("plain SGBM 3-way with the true range, the bar: Motorcycle 86.4% at 1.050 px / 6.10%")
    breakdown("Middlebury Motorcycle", ml, mr, mgt)
    s = 80
    breakdown("Motorcycle shifted +80 px", np.ascontiguousarray(ml[:, :-s]), np.ascontiguousarray(mr[:, s:]), mgt[:, :-s] + s)


if __name__ == "__main__":
    main()
