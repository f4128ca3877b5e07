"""What ``preset=accurate``'s chain costs without its segment planes, step by step, this checkout
against another revision (#15 eighth round (b)).

    python benchmarks/depth_chain.py --base 697f588 [--head HEAD] --rounds 6 --repeats 5

The base revision's ``stages/`` (and the head's, with ``--head``; else this working tree's) is
exported (``git archive``) to a temporary folder and imported in place of this checkout's (the
rest of the package is this checkout's). Each round runs one
process per revision, the order reversed every other round (ABBA...); each process times every
row next to plain SGBM-64 (``time_against`` of benchmarks/depth.py, A B / B A) on the sample's
first frame and on Middlebury Motorcycle. The table gives per row the median ms of each side
and the median over rounds of head / base of the rows' ratios to SGBM-64 (a process's load hits
its yardstick too), with the rounds' min..max. The steps are timed on their own inputs, which
each revision computes with its own code.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def worker(stages: str | None, repeats: int) -> None:
    """Time the rows with the ``stages/`` at ``stages`` (None: this checkout's); print JSON."""
    if stages:
        import sensorium.stages

        sensorium.stages.__path__[:] = [stages]  # before any of its submodules is imported
    sys.path.insert(0, str(REPO))
    from skimage import data as skdata

    from benchmarks.depth import time_against
    from sensorium.pipeline.io.sample import make_sample
    from sensorium.stages.depth import stereo
    from sensorium.stages.depth.cross_check import cross_check, rank_transform
    from sensorium.stages.depth.occlusion import drop_occluded
    from sensorium.stages.depth.periodic import repeats as periodic_repeats
    from sensorium.stages.depth.range import DisparityRange
    from sensorium.stages.depth.stage import DepthStage
    from sensorium.stages.frame import Frame

    assert stages is None or stereo.__file__.startswith(stages), stereo.__file__
    seq = make_sample(1)
    ml, mr, _ = skdata.stereo_motorcycle()
    out: dict[str, dict[str, float]] = {}
    for name, left, right, calib in (("sample", seq.lefts[0], seq.rights[0], seq.calib), ("Motorcycle", ml, mr, None)):
        stage = DepthStage({"preset": "accurate", "fill_planes": False})
        stage.setup()
        frame = Frame("chain", 0, image=left, right=right, calib=calib)
        (done,) = stage([frame])
        meta = done.results["depth"].metadata
        rect = stereo.rectification(calib, (left.shape[1], left.shape[0])) if calib is not None else None
        l_r, r_r = stereo.remap_pair(left, right, rect) if rect is not None else (left, right)
        gl, gr = stereo.to_grey(l_r), stereo.to_grey(r_r)
        cfg = stage.config
        params = cfg.sgbm(DisparityRange(meta["min_disparity"], meta["num_disparities"], "auto"))
        kwargs = dict(lr_check=True, max_lr_diff=cfg.max_lr_diff, fill=True, lr_scale="full", fill_filter=cfg.fill_filter,
                      keep_rejected=cfg.keep_rejected, periodic_guard=True)
        maps = stereo.match(gl, gr, params, **kwargs)
        checked, agreed = cross_check(maps, gl, gr, params)
        disp = stereo.compute_disparity(gl, gr, params)
        err = stereo.lr_consistency(disp, stereo.compute_right_disparity(gl, gr, params))
        half = stereo.lr_consistency(disp, stereo.compute_right_disparity_scaled(gl, gr, params, 2, 2)) - 0.5
        ys, xs = ((err <= cfg.max_lr_diff) & (half > cfg.max_lr_diff)).nonzero()  # the guard's pixels
        top = params.min_disparity + params.num_disparities
        p64 = stereo.SGBMParams(64, full_width=False)
        rows = [
            ("SGBM-64 (the yardstick)", lambda: p64.matcher().compute(gl, gr)),
            ("stage: preset=accurate, fill_planes=false", lambda: stage.process([frame])),
            ("  match: SGBM, LR full + guard, fill, keep rejected", lambda: stereo.match(gl, gr, params, **kwargs)),
            ("    match without the guard", lambda: stereo.match(gl, gr, params, **{**kwargs, "periodic_guard": False})),
            ("    the guard's self-match test (periodic.repeats)", lambda: periodic_repeats(gl, gr, disp, ys, xs, top)),
            ("  cross_check (rank transform + SGBM)", lambda: cross_check(maps, gl, gr, params)),
            ("    rank transform of both images", lambda: (rank_transform(gl), rank_transform(gr))),
            ("  drop_occluded", lambda: drop_occluded(checked, gl, cfg.block_size, cfg.occlusion_margin, confirmed=agreed)),
        ]
        for (label, _), t in zip(rows, time_against(rows[0][1], rows, repeats)):
            out[f"{name}: {label}"] = {"ms": t["median_ms"], "ratio": t["ratio"]}
    print(json.dumps(out))


def export(rev: str) -> str:
    """``rev``'s stages/ in a temporary folder (removed when this process exits)."""
    folder = Path(tempfile.mkdtemp(prefix="sensorium-chain-"))
    atexit.register(shutil.rmtree, folder, True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "stages"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return str(folder / "stages")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="697f588", help="the revision to compare against")
    ap.add_argument("--head", default=None, help="the revision under test (default: this working tree)")
    ap.add_argument("--rounds", type=int, default=6, help="processes per side, alternating")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per row and process")
    ap.add_argument("--worker", nargs="?", const="", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        return worker(args.worker or None, args.repeats)
    sides = {"base": export(args.base), "head": export(args.head) if args.head else ""}
    runs: dict[str, list[dict]] = {"base": [], "head": []}
    print(f"# {args.base} (base) against {args.head or 'this working tree'} (head), {args.rounds} rounds ABBA, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    for k in range(args.rounds):
        for side in ("base", "head") if k % 2 == 0 else ("head", "base"):
            cmd = [sys.executable, __file__, "--repeats", str(args.repeats), "--worker", sides[side]]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            if proc.returncode:
                raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
            runs[side].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"round {k + 1} {side} done, load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"\n{'row':78s} {'base ms':>8s} {'head ms':>8s} {'head/base (x SGBM-64)':>24s}")
    for row in runs["base"][0]:
        b = [r[row] for r in runs["base"]]
        h = [r[row] for r in runs["head"]]
        q = [y["ratio"] / x["ratio"] for x, y in zip(b, h)]
        print(f"{row[:78]:78s} {statistics.median(x['ms'] for x in b):8.1f} {statistics.median(y['ms'] for y in h):8.1f} "
              f"{statistics.median(q):10.2f} [{min(q):.2f}-{max(q):.2f}]")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
