"""#15 eighth round (a): cheaper segments for the hole planes (planes.py), chosen held out.

    SENSORIUM_DATA=/path/to/data python benchmarks/depth_planes.py --part held [--variants "a|b"]
    SENSORIUM_DATA=/path/to/data python benchmarks/depth_planes.py --part eval --variants "merged 16 k4000"
    python benchmarks/depth_planes.py --part speed [--repeats 15]

``preset=accurate`` answered its holes from planes over Felzenszwalb's pixel-graph segments
(scikit-image), ~10x SGBM-64 per VGA frame alone. This measures cheaper segmentations in the
stage (its ``plane_fill`` swapped for each variant): on the seventh round's 16 held-out layered
pairs (depth_holes.py's ``layered_pair``, seeds 100-107, planar and curved; the choice is made
there), then on the evaluation pairs (the sample's 8 frames, Motorcycle) and #18's chessboard
once per variant, and the cost of each segmentation and of the fit per VGA frame against SGBM-64.

Research code for docs/benchmarks.md (#15, eighth round (a)).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.depth import data_sets, time_against  # noqa: E402
from benchmarks.depth_holes import ACCURATE, chessboard_check, fmt, layered_pair, plain, score  # noqa: E402
from sensorium.pipeline.io.sample import make_sample  # noqa: E402
from sensorium.stages.depth import planes, stage as stage_module, stereo  # noqa: E402

Segmenter = Callable[[np.ndarray], np.ndarray]


def felzenszwalb(scale: float = 200, min_size: int = 20, down: int = 1, refine: bool = False) -> Segmenter:
    """scikit-image's Felzenszwalb (sigma 0.5) at 1/``down`` size; labels back to full size by
    nearest neighbour, or (``refine``) each pixel taking the one of its 4 nearest small labels
    whose mean colour is nearest its own."""
    from skimage.segmentation import felzenszwalb as felz

    def run(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        small = image if down == 1 else cv2.resize(image, (w // down, h // down), interpolation=cv2.INTER_AREA)
        lab = felz(small, scale=scale, sigma=0.5, min_size=min_size, channel_axis=-1)
        if down == 1:
            return lab
        hs, ws = lab.shape
        if not refine:
            return lab[(np.arange(h) * hs // h)[:, None], (np.arange(w) * ws // w)[None, :]]
        n = int(lab.max()) + 1
        px = small.reshape(-1, 3).astype(np.float32)
        count = np.maximum(np.bincount(lab.ravel(), minlength=n), 1)
        mean = np.stack([np.bincount(lab.ravel(), weights=px[:, c], minlength=n) for c in range(3)], 1) / count[:, None]
        r0 = np.clip(np.floor((np.arange(h) + 0.5) * hs / h - 0.5).astype(int), 0, hs - 1)
        c0 = np.clip(np.floor((np.arange(w) + 0.5) * ws / w - 0.5).astype(int), 0, ws - 1)
        img = image.astype(np.float32)
        best = out = None
        for rr in (r0, np.minimum(r0 + 1, hs - 1)):
            for cc in (c0, np.minimum(c0 + 1, ws - 1)):
                cand = lab[rr[:, None], cc[None, :]]
                dist = ((mean[cand] - img) ** 2).sum(-1)
                if best is None:
                    best, out = dist, cand
                else:
                    out, best = np.where(dist < best, cand, out), np.minimum(dist, best)
        return out

    return run


def superpixels(step: int) -> Segmenter:
    """planes.py's seeded watershed regions alone (no merging)."""
    return lambda image: planes.superpixels(np.ascontiguousarray(image), step)


def merged(step: int, scale: float) -> Segmenter:
    """planes.py's segments: watershed superpixels ``step`` px apart, merged with ``scale``."""
    return lambda image: planes._merge(planes.superpixels(np.ascontiguousarray(image), step), np.ascontiguousarray(image), scale)


def edges_by_grid(grid: int, low: int = 30, high: int = 90) -> Segmenter:
    """Connected components between Canny's colour edges, cut by a ``grid`` px grid."""
    def run(image: np.ndarray) -> np.ndarray:
        cut = cv2.Canny(image, low, high) > 0
        cut[:, grid::grid] = True
        cut[grid::grid, :] = True
        _, lab = cv2.connectedComponents((~cut).astype(np.uint8), connectivity=4)
        markers = np.where(cut, -1, lab).astype(np.int32)
        planes._join_lines(markers, np.ascontiguousarray(image))
        return markers - 1
    return run


def minima_seeded(window: int) -> Segmenter:
    """Watershed seeded at the colour gradient's local minima (window px; a plateau one seed)."""
    def run(image: np.ndarray) -> np.ndarray:
        smooth = cv2.GaussianBlur(image, (0, 0), 1.0)
        grad = np.max([cv2.magnitude(cv2.Sobel(c, cv2.CV_32F, 1, 0), cv2.Sobel(c, cv2.CV_32F, 0, 1)) for c in cv2.split(smooth)], axis=0)
        seeds = (grad <= cv2.erode(grad, np.ones((window, window), np.uint8))).astype(np.uint8)
        markers = cv2.connectedComponents(seeds, connectivity=8)[1].astype(np.int32)
        colour = np.ascontiguousarray(image)
        cv2.watershed(colour, markers)
        planes._join_lines(markers, colour)
        return markers - 1
    return run


VARIANTS: dict[str, Segmenter] = {
    "felzenszwalb full, scale 200 (seventh round)": felzenszwalb(),
    **{f"felzenszwalb half, scale {s}, min {m}": felzenszwalb(s, m, 2) for s, m in ((50, 5), (100, 5), (200, 10))},
    **{f"felzenszwalb half, scale {s}, refined": felzenszwalb(s, 5, 2, True) for s in (50, 100, 200)},
    **{f"superpixels {s}": superpixels(s) for s in (8, 12, 24, 32, 40, 48, 64, 96)},
    **{f"merged {s} k{k}": merged(s, k) for s, k in ((8, 2000), (8, 4000), (8, 8000), (12, 4000), (16, 4000))},
    **{f"edges by grid {g}": edges_by_grid(g) for g in (24, 32)},
    "minima-seeded watershed 25": minima_seeded(25),
}


@contextlib.contextmanager
def segmented_by(segment: Segmenter, min_inliers: float = planes.MIN_INLIERS) -> Iterator[None]:
    """While active, the stage's plane_fill uses ``segment`` (and ``min_inliers``)."""
    original = stage_module.plane_fill

    def fill(maps: stereo.StereoMaps, image: np.ndarray) -> stereo.StereoMaps:
        if not maps.filled.any() or not maps.matched.any():
            return maps
        return planes.fill_from_segments(maps, segment(image), planes.MIN_SUPPORT, min_inliers)

    stage_module.plane_fill = fill
    try:
        yield
    finally:
        stage_module.plane_fill = original


def print_speed(repeats: int) -> None:
    """Each segmentation, and the fit (old: every checked pixel; new: the segments that hold
    holes), on the sample's first frame as the stage sees it, against SGBM-64."""
    from benchmarks.depth import cpu_model
    from sensorium.stages.depth.stage import DepthStage
    from sensorium.stages.frame import Frame

    seq = make_sample(1)
    seen: dict[str, object] = {}
    original = stage_module.plane_fill

    def keep(maps: stereo.StereoMaps, image: np.ndarray) -> stereo.StereoMaps:
        seen.update(maps=maps, image=image)
        return original(maps, image)

    stage_module.plane_fill = keep
    try:
        DepthStage(ACCURATE)([Frame("bench", 0, image=seq.lefts[0], right=seq.rights[0], calib=seq.calib)])
    finally:
        stage_module.plane_fill = original
    maps, image = seen["maps"], seen["image"]
    grey_l, grey_r = stereo.to_grey(seq.lefts[0]), stereo.to_grey(seq.rights[0])
    sgbm64 = stereo.SGBMParams(64, full_width=False).matcher()
    base = lambda: sgbm64.compute(grey_l, grey_r)  # noqa: E731
    felz = VARIANTS["felzenszwalb full, scale 200 (seventh round)"](image)
    shipped = planes.segments(image)
    every = np.ones(int(felz.max()) + 1, bool)
    stages = {flag: DepthStage({**ACCURATE, "fill_planes": flag}) for flag in (True, False)}

    def accurate(segment: Segmenter | None = None, planes: bool = True) -> object:
        frame = Frame("bench", 0, image=seq.lefts[0], right=seq.rights[0], calib=seq.calib)
        with segmented_by(segment) if segment is not None else contextlib.nullcontext():
            return stages[planes]([frame])
    rows = [
        ("segments: Felzenszwalb, full size (seventh round)", lambda: VARIANTS["felzenszwalb full, scale 200 (seventh round)"](image)),
        ("segments: Felzenszwalb, half size, scale 100", lambda: VARIANTS["felzenszwalb half, scale 100, min 5"](image)),
        ("segments: superpixels 16 px (watershed)", lambda: planes.superpixels(image)),
        ("segments: merged superpixels (planes.segments, shipped)", lambda: planes.segments(image)),
        ("fit: every segment (seventh round), Felzenszwalb's", lambda: planes.fit_planes(felz, maps.disparity, maps.matched, every)),
        ("fill from segments (fit of the hole segments), Felzenszwalb's", lambda: planes.fill_from_segments(maps, felz)),
        ("fill from segments, shipped segments", lambda: planes.fill_from_segments(maps, shipped)),
        ("plane_fill, shipped (segments + fit + fill)", lambda: planes.plane_fill(maps, image)),
        ("DepthStage preset=accurate (shipped)", lambda: accurate()),
        ("DepthStage preset=accurate, the seventh round's segments", lambda: accurate(VARIANTS["felzenszwalb full, scale 200 (seventh round)"])),
        ("DepthStage preset=accurate without fill_planes", lambda: accurate(planes=False)),
    ]
    print(f"machine: {cpu_model()}, load {__import__('os').getloadavg()[0]:.2f}; {repeats} rounds, A B / B A against SGBM-64")
    for (name, _), t in zip(rows, time_against(base, rows, repeats)):
        print(f"{name:66s} {t['median_ms']:7.1f} ms {t['ratio']:6.2f}x [{t['q1']:.2f}-{t['q3']:.2f}]")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=("held", "eval", "speed"), default="held")
    parser.add_argument("--variants", default="", help="|-separated variant names (default: all); 'shipped' is planes.segments")
    parser.add_argument("--min-inliers", type=float, default=planes.MIN_INLIERS)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if args.part == "speed":
        print_speed(args.repeats)
        return
    table = {**VARIANTS, "shipped": planes.segments}
    names = args.variants.split("|") if args.variants else list(table)
    if args.part == "held":
        held = {c: [layered_pair(s, curved=c) for s in range(100, 108)] for c in (False, True)}
        print(f"plain SGBM, true range: planar {fmt(plain(held[False]))} | curved {fmt(plain(held[True]))}", flush=True)
        for name in names:
            with segmented_by(table[name], args.min_inliers):
                cells = [score(pairs, ACCURATE, None) for pairs in held.values()]
            print(f"{name:48s} planar {fmt(cells[0])} | curved {fmt(cells[1])} | all {fmt(np.concatenate(cells))}", flush=True)
        return
    sets = data_sets(make_sample(8))[:2]
    print("plain SGBM, true range: " + " | ".join(f"{n} {fmt(plain(f))}" for n, f in sets), flush=True)
    for name in names:
        with segmented_by(table[name], args.min_inliers):
            cells = [fmt(score(frames, ACCURATE, None)) for _, frames in sets]
            overlap, board = chessboard_check(ACCURATE, None)
        print(f"{name:48s} " + " | ".join(cells) + f" | chessboard {overlap:.3f} {board}", flush=True)


if __name__ == "__main__":
    main()
