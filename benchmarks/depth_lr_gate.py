"""#15 sixth round: can the occlusion set (full-size LR check) be made the default without breaking #18?

    SENSORIUM_DATA=/path/to/data python benchmarks/depth_lr_gate.py

For each variant: the dense output on the 8-frame sample, Motorcycle and Motorcycle shifted
+80 px (coverage / EPE / bad-2, against plain SGBM 3-way with the true range), and #18's
chessboard test's numbers (board/wall colour overlap, must be < 0.2; board pixels, must be
> 20,000) on the real chessboard pair with its own calibration. The variants change two steps
of the stage from outside, so nothing here is wired into it:

- the LR check's verdict (the stage run with ``lr_scale=full``, its consistency error replaced):
  ``both`` (the full-size and the half-size round trip must agree), ``textured`` (both below the
  texture floor, the full-size one alone above it), ``union`` (the half-size one, or the
  full-size one where textured);
- ``split`` occlusion margin: ``occlusion_margin`` only between two checked pixels, ``fill_margin``
  for any violation a filled pixel takes part in.

Research code for docs/benchmarks.md (#15, sixth round).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' chessboard helpers

from benchmarks.depth import _stage, _true_range, data_sets  # noqa: E402
from sensorium.pipeline.draw.colormap import colorize_depth  # noqa: E402
from sensorium.pipeline.io.calibration import read_image_list  # noqa: E402
from sensorium.pipeline.io.sample import make_sample  # noqa: E402
from sensorium.stages.depth import occlusion, stage as stage_module, stereo  # noqa: E402
from sensorium.stages.depth.calibration import calibrate_stereo  # noqa: E402
from sensorium.stages.depth.evaluate import evaluate_disparity  # noqa: E402
from sensorium.stages.depth.stage import DepthStage  # noqa: E402
from sensorium.stages.frame import Frame  # noqa: E402
from tests.pipeline.draw.conftest import lut_index  # noqa: E402
from tests.pipeline.draw.test_colormap import BOARD, regions, separated  # noqa: E402

SET = {"preset": "balanced", "cross_check": True, "drop_occluded": True}  # on the then defaults


@contextlib.contextmanager
def lr_verdict(kind: str | None) -> Iterator[None]:
    """While active, a full-size LR check's error is combined with the half-size one's (see the module)."""
    if kind is None:
        yield
        return
    scaled, consistency = stereo.compute_right_disparity_scaled, stereo.lr_consistency
    seen: dict[str, tuple] = {}

    def remember(left, right, params, fx, fy=1):
        seen["pair"] = (left, right, params)
        return scaled(left, right, params, fx, fy)

    def combined(disp_left, disp_right):
        err = consistency(disp_left, disp_right)
        left, right, params = seen.pop("pair")
        half = consistency(disp_left, scaled(left, right, params, 2, 2)) - np.float32(0.5)  # the half-size tolerance
        bare = stereo.texture_strength(stereo.to_grey(left), params.block_size) < 1.0
        if kind == "both":
            return np.maximum(err, half)
        if kind == "textured":
            return np.where(bare, np.maximum(err, half), err).astype(np.float32)
        return np.where(bare, half, np.minimum(err, half)).astype(np.float32)  # union

    stereo.compute_right_disparity_scaled, stereo.lr_consistency = remember, combined
    try:
        yield
    finally:
        stereo.compute_right_disparity_scaled, stereo.lr_consistency = scaled, consistency


def _after(low: np.ndarray) -> np.ndarray:
    """Per pixel, the least value strictly to its right in its row (inf at the end)."""
    out = np.minimum.accumulate(low[:, ::-1], axis=1)[:, ::-1]
    return np.concatenate([out[:, 1:], np.full((low.shape[0], 1), np.inf, np.float32)], axis=1)


@contextlib.contextmanager
def split_margin(fill_margin: float | None) -> Iterator[None]:
    """While active, the stage's drop_occluded uses its margin only between checked pixels."""
    if fill_margin is None:
        yield
        return
    original = stage_module.drop_occluded

    def split(maps, grey, block_size=3, margin=0.0, confirmed=None):
        land = occlusion.landing(maps.disparity)
        known = maps.disparity > 0
        inf = np.float32(np.inf)
        checked_after = _after(np.where(maps.matched & known, land, inf))
        filled_after = _after(np.where(maps.filled & known, land, inf))
        occluded_checked = maps.matched & ((checked_after <= land - margin) | (filled_after <= land - fill_margin))
        occluded_filled, shadowing = occlusion.ordering_violations(maps.disparity, fill_margin)
        drop = occluded_checked | (maps.filled & (occluded_filled | shadowing))
        if confirmed is not None:
            drop &= ~(confirmed & (land >= block_size // 2 + 1))
        kept = stereo.StereoMaps(np.where(drop, np.float32(-1), maps.disparity).astype(np.float32),
                                 np.where(drop, np.float32(0), maps.confidence).astype(np.float32),
                                 maps.matched & ~drop, maps.filled & ~drop)
        return original(kept, grey, block_size, 1e9, None)  # a margin nothing exceeds: only the left band's extension

    stage_module.drop_occluded = split
    try:
        yield
    finally:
        stage_module.drop_occluded = original


VARIANTS: list[tuple[str, dict, str | None, float | None]] = [
    ("the then defaults (preset=balanced)", {"preset": "balanced"}, None, None),
    ("the occlusion set (lr_scale=full, margin 2)", {**SET, "lr_scale": "full", "occlusion_margin": 2.0}, None, None),
    ("set, lr_scale=full, verdict: textured, margin 2", {**SET, "lr_scale": "full", "occlusion_margin": 2.0}, "textured", None),
    ("set, lr_scale=full, verdict: union, margin 2", {**SET, "lr_scale": "full", "occlusion_margin": 2.0}, "union", None),
    ("set, lr_scale=full, verdict: both, margin 2", {**SET, "lr_scale": "full", "occlusion_margin": 2.0}, "both", None),
    ("set, verdict: both, margin 3", {**SET, "lr_scale": "full", "occlusion_margin": 3.0}, "both", None),
    ("set, verdict: both, margin 4", {**SET, "lr_scale": "full", "occlusion_margin": 4.0}, "both", None),
    ("set, lr_scale=half, split margin 3 / fills 0", {**SET, "occlusion_margin": 3.0}, None, 0.0),
    ("set, lr_scale=half, split margin 3 / fills 1", {**SET, "occlusion_margin": 3.0}, None, 1.0),
    ("set, lr_scale=half, split margin 3 / fills 2", {**SET, "occlusion_margin": 3.0}, None, 2.0),
    ("set, lr_scale=half_width, split 3 / fills 1", {**SET, "lr_scale": "half_width", "occlusion_margin": 3.0}, None, 1.0),
    ("set, lr_scale=half_width, split 3 / fills 2", {**SET, "lr_scale": "half_width", "occlusion_margin": 3.0}, None, 2.0),
    ("set, lr_scale=full, split margin 2 / fills 0", {**SET, "lr_scale": "full", "occlusion_margin": 2.0}, None, 0.0),
    ("set, verdict: both, split margin 3 / fills 0", {**SET, "lr_scale": "full", "occlusion_margin": 3.0}, "both", 0.0),
]


def chessboard() -> tuple[list[np.ndarray], object]:
    folder = Path(os.environ["SENSORIUM_DATA"]) / "stereo/chessboard"
    names = read_image_list(folder / "stereo_calib.xml")
    images = [cv2.cvtColor(cv2.imread(str(folder / n)), cv2.COLOR_BGR2RGB) for n in names]
    calib, _ = calibrate_stereo(images[0::2], images[1::2], BOARD, 0.025)
    return images, calib


def main() -> None:
    sets = data_sets(make_sample(8))
    images, calib = chessboard()
    print(f"{'variant':50s} " + " | ".join(f"{n[:12]:>12s} cov / EPE / bad-2" for n, _ in sets) + " | chessboard overlap, board px")
    plain = []
    for _, frames in sets:
        acc = [evaluate_disparity(stereo.compute_disparity(a, b, stereo.SGBMParams(_true_range(gt), full_width=False)), gt) for a, b, gt in frames]
        plain.append(np.array([[s.coverage, s.epe, s.bad2] for s in acc]).mean(axis=0))
    print(f"{'plain SGBM 3-way, true range (the bar)':50s} " + " | ".join(f"{m[0] * 100:6.2f}% {m[1]:.3f} {m[2] * 100:5.2f}%" for m in plain))
    for label, options, verdict, fill_margin in VARIANTS:
        with lr_verdict(verdict), split_margin(fill_margin):
            cells = []
            for _, frames in sets:
                acc = [evaluate_disparity(_stage(options, a, b), gt) for a, b, gt in frames]
                m = np.array([[s.coverage, s.epe, s.bad2] for s in acc]).mean(axis=0)
                cells.append(f"{m[0] * 100:6.2f}% {m[1]:.3f} {m[2] * 100:5.2f}%")
            (frame,) = DepthStage(options)([Frame("board", 0, image=images[0], right=images[1], calib=calib)])
        depth = frame.results["depth"]
        board, wall = regions(depth, depth.rectification.rectify_image(images[0]))
        overlap, _ = separated(lut_index(colorize_depth(depth.depth)), board, wall)
        print(f"{label:50s} " + " | ".join(cells) + f" | {overlap:.3f} {int(board.sum())}", flush=True)


if __name__ == "__main__":
    main()
