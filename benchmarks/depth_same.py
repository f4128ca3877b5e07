"""Does this checkout's depth stage give the same output as another revision's, bit for bit?

    SENSORIUM_DATA=/work/shared/data python benchmarks/depth_same.py --base 697f588 [--options '{"preset": "accurate"}']

Runs the stage with ``--options`` on the sample's 8 frames, Middlebury Motorcycle, Motorcycle
shifted +80 px and the real chessboard pair (#18, with its own calibration), once with the base
revision's ``stages/`` (exported as in depth_chain.py) and once with this working tree's, each in
its own process, and compares disparity, confidence, depth and the matched / filled / cross-checked
fractions array by array (#15 eighth round (b): the speed-ups must not change a bit).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def capture(stages: str | None, options: dict, path: str) -> None:
    """The stage's outputs on the pairs, with the ``stages/`` at ``stages`` (None: this checkout's), saved to ``path``."""
    if stages:
        import sensorium.stages

        sensorium.stages.__path__[:] = [stages]
    import cv2
    from skimage import data as skdata

    from sensorium.pipeline.io.calibration import read_image_list
    from sensorium.pipeline.io.sample import make_sample
    from sensorium.stages.depth.calibration import calibrate_stereo
    from sensorium.stages.depth.stage import DepthStage
    from sensorium.stages.frame import Frame

    seq = make_sample(8)
    pairs = [(f"sample{i}", seq.lefts[i], seq.rights[i], seq.calib) for i in range(8)]
    ml, mr, _ = skdata.stereo_motorcycle()
    pairs += [("Motorcycle", ml, mr, None), ("shifted", np.ascontiguousarray(ml[:, :-80]), np.ascontiguousarray(mr[:, 80:]), None)]
    folder = Path(os.environ.get("SENSORIUM_DATA", "/work/shared/data")) / "stereo/chessboard"
    images = [cv2.cvtColor(cv2.imread(str(folder / n)), cv2.COLOR_BGR2RGB) for n in read_image_list(folder / "stereo_calib.xml")]
    calib, _ = calibrate_stereo(images[0::2], images[1::2], (9, 6), 0.025)
    pairs.append(("chessboard", images[0], images[1], calib))
    out = {}
    for name, left, right, cal in pairs:
        stage = DepthStage(options)
        stage.setup()
        (frame,) = stage([Frame("same", 0, image=left, right=right, calib=cal)])
        if frame.errors:
            raise RuntimeError(f"{name}: {frame.errors}")
        d = frame.results["depth"]
        out.update({f"{name}.disparity": d.disparity, f"{name}.confidence": d.confidence, f"{name}.depth": d.depth})
        out.update({f"{name}.{k}": np.array(d.metadata.get(k, -1.0)) for k in ("matched_fraction", "filled_fraction", "cross_checked_fraction")})
    np.savez(path, **out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="697f588")
    ap.add_argument("--options", default='{"preset": "accurate"}', help="the stage's options, JSON")
    ap.add_argument("--capture", nargs=2, metavar=("STAGES", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    options = json.loads(args.options)
    if args.capture:
        return capture(args.capture[0] or None, options, args.capture[1])
    sys.path.insert(0, str(REPO))
    from benchmarks.depth_chain import export

    work = Path(tempfile.mkdtemp(prefix="sensorium-same-"))
    atexit.register(shutil.rmtree, work, True)
    for side, stages in (("base", export(args.base)), ("head", "")):
        subprocess.run([sys.executable, __file__, "--options", args.options, "--capture", stages, str(work / f"{side}.npz")], check=True, cwd=REPO)
    base, head = np.load(work / "base.npz"), np.load(work / "head.npz")
    differ = [k for k in base.files if not np.array_equal(base[k], head[k], equal_nan=True)]
    for k in differ:
        print(f"differs: {k} ({int((base[k] != head[k]).sum())} of {base[k].size})")
    print(f"{args.base} vs this working tree, {options}: {len(base.files) - len(differ)} of {len(base.files)} arrays identical"
          + (" (all)" if not differ else ""))
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
