"""Hole answers from segment planes: a filled pixel takes its colour segment's plane where one is well supported.

The scan-line fill (stereo.py) gives each hole its background-side neighbour's disparity: right for
occlusions, wrong for visible holes on slanted or curved surfaces and thin structures (40% off
by > 2 px on Motorcycle). Segment-based stereo (Bleyer and Gelautz 2005; Klaus et al. 2006)
assumes a colour segment is one smooth surface: fit a plane ``d = a x + b y + c`` to the
segment's checked disparities, robustly (IRLS with Huber weights: a few wrong checked pixels do
not tilt it), and answer the segment's holes from it. Only segments with enough checked support
whose checked pixels mostly lie on the plane answer; elsewhere the scan-line fill stays.
Segments: Felzenszwalb and Huttenlocher's graph segmentation (scikit-image), over-segmenting so
that a segment rarely crosses a depth edge. The thresholds were chosen on held-out layered pairs
built from real photos, not on the evaluation pairs (benchmarks/depth_holes.py, docs/benchmarks.md).

Pure numpy/scikit-image on (H, W) arrays; disparities as in stereo.py (``<= 0`` unknown).
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from sensorium.stages.depth import stereo

#: segments are found at 1/SEGMENT_DOWNSCALE size, with Felzenszwalb's scale (larger: bigger
#: segments), smoothing and least segment size (pixels at that size). Full size costs ~10x
#: SGBM-64 at VGA; half size (scale 100, min size 5: the best of 25/50/100 held out) ~1.6x, but
#: measured less accurate: the sample's bad-2 0.39% against plain SGBM's 0.37% (docs/benchmarks.md)
SEGMENT_DOWNSCALE = 1
SEGMENT_SCALE = 200
SEGMENT_SIGMA = 0.5
SEGMENT_MIN_SIZE = 20
#: a segment answers its holes when it has this many checked pixels ...
MIN_SUPPORT = 80
#: ... and this share of them lies within 1 px of its plane
MIN_INLIERS = 0.7
#: robust fit: IRLS rounds and the Huber scale (px)
IRLS_ROUNDS = 4
HUBER_PX = 1.0
#: the fit uses every FIT_STRIDE-th checked pixel of a segment (1: all)
FIT_STRIDE = 1
#: ridge on the slopes per checked pixel (x, y in units of 100 px): pulls a plane whose support
#: is a narrow strip towards flat, and any plane somewhat (a 120 x 60 px segment sloping 0.1 px
#: per px: 0.28 px mean error); chosen on the held-out pairs over 1e-3 and 1e-4 (docs/benchmarks.md)
RIDGE = 1e-2


def segments(image: np.ndarray) -> np.ndarray:
    """Colour segments of an (H, W, 3) or (H, W) uint8 image: (H, W) int labels 0..n-1 (found at
    1/:data:`SEGMENT_DOWNSCALE` size, labels spread back to full size by nearest neighbour)."""
    from skimage.segmentation import felzenszwalb

    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"segments: expected an (H, W, 3) or (H, W) uint8 image, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    hs, ws = max(h // SEGMENT_DOWNSCALE, 1), max(w // SEGMENT_DOWNSCALE, 1)
    small = image if (hs, ws) == (h, w) else cv2.resize(image, (ws, hs), interpolation=cv2.INTER_AREA)
    labels = felzenszwalb(small, scale=SEGMENT_SCALE, sigma=SEGMENT_SIGMA, min_size=SEGMENT_MIN_SIZE,
                          channel_axis=-1 if image.ndim == 3 else None)
    rows, cols = np.arange(h) * hs // h, np.arange(w) * ws // w
    return labels[rows[:, None], cols[None, :]]


def fit_planes(labels: np.ndarray, disparity: np.ndarray, checked: np.ndarray,
               wanted: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment a robust plane over its checked pixels: ``(params, support, inlier_share)``.

    labels: (H, W) int segment ids; disparity: (H, W) float32; checked: (H, W) bool, the pixels to
    fit; wanted: (n,) bool, the segments to fit (None: all; the others get zeros: a fill only
    needs the segments that hold holes, often half the checked pixels or less). params: (n, 3)
    float64, ``d = p0 + p1 x / 100 + p2 y / 100``; support: (n,) checked pixels per segment;
    inlier_share: (n,) share of them within 1 px of the plane. A ridge on the slopes
    (:data:`RIDGE`) makes a segment whose support is a narrow strip fall back towards a flat plane.
    """
    if labels.shape != disparity.shape or checked.shape != disparity.shape:
        raise ValueError(f"labels {labels.shape}, disparity {disparity.shape} and checked {checked.shape} differ in shape")
    n = int(labels.max()) + 1
    if wanted is not None and wanted.shape != (n,):
        raise ValueError(f"wanted: expected ({n},) bool, one per segment, got {wanted.shape}")
    use = checked & (disparity > 0)
    if wanted is not None:
        use &= wanted[labels]
    ys, xs = np.nonzero(use)
    lab_all = labels[ys, xs]
    support = np.bincount(lab_all, minlength=n).astype(np.float64)
    # the fit on every FIT_STRIDE-th checked pixel in raster order (each segment keeps its share);
    # support and the inlier share count them all
    ys_f, xs_f, lab = ys[::FIT_STRIDE], xs[::FIT_STRIDE], lab_all[::FIT_STRIDE]
    d = disparity[ys_f, xs_f].astype(np.float64)
    x, y = xs_f / 100.0, ys_f / 100.0
    # the normal equations' nine sums per segment (1, x, y, xx, xy, yy | d, xd, yd), each a
    # weighted bincount; the products are formed once, the IRLS weights multiply them per round
    terms = np.stack([np.ones_like(d), x, y, x * x, x * y, y * y, d, x * d, y * d])
    ridge = RIDGE * np.bincount(lab, minlength=n) + 1e-6
    weighted = terms
    params = np.zeros((n, 3))
    residual = np.zeros_like(d)
    for _ in range(IRLS_ROUNDS):
        s = [np.bincount(lab, weights=t, minlength=n) for t in weighted]
        A = np.stack([np.stack([s[0] + 1e-9, s[1], s[2]], -1), np.stack([s[1], s[3] + ridge, s[4]], -1),
                      np.stack([s[2], s[4], s[5] + ridge], -1)], 1)
        params = np.linalg.solve(A, np.stack(s[6:], -1)[..., None])[..., 0]
        p = params[lab]
        residual = d - (p[:, 0] + p[:, 1] * x + p[:, 2] * y)
        weighted = terms * (1.0 / np.maximum(1.0, np.abs(residual) / HUBER_PX))
    if FIT_STRIDE > 1:
        p = params[lab_all]
        residual = disparity[ys, xs] - (p[:, 0] + p[:, 1] * (xs / 100.0) + p[:, 2] * (ys / 100.0))
        lab = lab_all
    inliers = np.bincount(lab, weights=(np.abs(residual) <= 1.0).astype(np.float64), minlength=n)
    return params, support, inliers / np.maximum(support, 1)


def plane_fill(maps: stereo.StereoMaps, image: np.ndarray) -> stereo.StereoMaps:
    """``maps`` with its filled pixels answered by their segment's plane where it is well supported.

    maps: :func:`stereo.match`'s output (with filling); image: the (H, W, 3) or (H, W) uint8 left
    image it was matched on (colour segments better). Checked pixels are unchanged; a filled pixel
    stays filled (low confidence), with the plane's disparity where its segment has at least
    :data:`MIN_SUPPORT` checked pixels, :data:`MIN_INLIERS` of them on the plane, and the plane is
    positive there.
    """
    if image.shape[:2] != maps.disparity.shape:
        raise ValueError(f"image {image.shape} and disparity {maps.disparity.shape} differ in size")
    if not maps.filled.any() or not maps.matched.any():
        return maps
    return fill_from_segments(maps, segments(image))


def fill_from_segments(maps: stereo.StereoMaps, labels: np.ndarray, min_support: int = MIN_SUPPORT,
                       min_inliers: float = MIN_INLIERS) -> stereo.StereoMaps:
    """:func:`plane_fill` with the segments given ((H, W) int labels) and its thresholds as arguments."""
    n = int(labels.max()) + 1
    holding = np.bincount(labels[maps.filled], minlength=n) > 0
    params, support, inliers = fit_planes(labels, maps.disparity, maps.matched, holding)
    good = (support >= min_support) & (inliers >= min_inliers)
    ys, xs = np.nonzero(maps.filled & good[labels])
    lab = labels[ys, xs]
    value = params[lab, 0] + params[lab, 1] * xs / 100.0 + params[lab, 2] * ys / 100.0
    ok = value > 0
    disp = maps.disparity.copy()
    disp[ys[ok], xs[ok]] = value[ok].astype(np.float32)
    return replace(maps, disparity=disp)
