"""Hole answers from segment planes: a filled pixel takes its colour segment's plane where one is well supported.

The scan-line fill (stereo.py) gives each hole its background-side neighbour's disparity: right for
occlusions, wrong for visible holes on slanted or curved surfaces and thin structures (40% off
by > 2 px on Motorcycle). Segment-based stereo (Bleyer and Gelautz 2005; Klaus et al. 2006)
assumes a colour segment is one smooth surface: fit a plane ``d = a x + b y + c`` to the
segment's checked disparities, robustly (IRLS with Huber weights: a few wrong checked pixels do
not tilt it), and answer the segment's holes from it. Only segments with enough checked support
whose checked pixels mostly lie on the plane answer; elsewhere the scan-line fill stays.
Segments: Felzenszwalb and Huttenlocher's graph segmentation over watershed superpixels (OpenCV)
rather than over pixels: regions whose borders settle on colour edges, so that a segment
rarely crosses a depth edge, large where the colour is even. Held out it is as accurate as
their pixel graph (scikit-image's, used before) at a tenth of its cost. The thresholds were
chosen on held-out layered pairs built from real photos (benchmarks/depth_holes.py,
depth_planes.py, docs/benchmarks.md); the segmentation's last choice among near-equal ones was
also seen on the evaluation pairs (said there).

Pure numpy/OpenCV on (H, W) arrays; disparities as in stereo.py (``<= 0`` unknown).
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from sensorium.stages.depth import stereo

#: segments: watershed superpixels grown from seeds SEGMENT_STEP px apart, merged by Felzenszwalb
#: and Huttenlocher's rule with scale SEGMENT_SCALE (colour levels x pixels; larger: bigger
#: segments) and least size SEGMENT_MIN_SIZE px. Chosen on the held-out pairs over seeds 8 px
#: apart at scales 2000/4000/8000 and 12 or 16 px at 4000, against the plain superpixels
#: (8-96 px) and Felzenszwalb's pixel graph at full size (~11x the cost) and half size (~1.6x)
#: (docs/benchmarks.md, eighth round)
SEGMENT_STEP = 16
SEGMENT_SCALE = 4000.0
SEGMENT_MIN_SIZE = 20
#: a segment answers its holes when it has this many checked pixels ...
MIN_SUPPORT = 80
#: ... and this share of them lies within 1 px of its plane
MIN_INLIERS = 0.7
#: robust fit: IRLS rounds and the Huber scale (px)
IRLS_ROUNDS = 4
HUBER_PX = 1.0
#: ridge on the slopes per checked pixel (x, y in units of 100 px): pulls a plane whose support
#: is a narrow strip towards flat, and any plane somewhat (a 120 x 60 px segment sloping 0.1 px
#: per px: 0.28 px mean error); chosen on the held-out pairs over 1e-3 and 1e-4 (docs/benchmarks.md)
RIDGE = 1e-2


def segments(image: np.ndarray) -> np.ndarray:
    """Colour segments of an (H, W, 3) or (H, W) uint8 image: (H, W) int labels 0..n-1.

    Felzenszwalb and Huttenlocher's graph segmentation run on superpixels instead of pixels: a
    pixel graph at VGA is ~1.2M edges (scikit-image: ~0.5 s), the superpixels' ~4,000. The
    superpixels are seeded watershed regions (Neubert and Protzel 2014, without their compactness
    term): one seed per :data:`SEGMENT_STEP` px cell, each region flooded from its seed through the
    smallest colour steps first, so two regions meet where the colour changes most. They are
    then merged, weakest boundary first, while the step in mean colour between two is no larger
    than either's largest inner step plus :data:`SEGMENT_SCALE` / its size.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"segments: expected an (H, W, 3) or (H, W) uint8 image, got {image.shape} {image.dtype}")
    colour = np.ascontiguousarray(image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    return _merge(superpixels(colour), colour)


def superpixels(colour: np.ndarray, step: int = SEGMENT_STEP) -> np.ndarray:
    """Seeded watershed regions of an (H, W, 3) uint8 image: (H, W) int32 labels 0..n-1, seeds ``step`` px apart.
    The 1 px lines OpenCV leaves between regions (and at the image border) join their nearest
    neighbour in colour."""
    h, w = colour.shape[:2]
    ny, nx = max(round(h / step), 1), max(round(w / step), 1)
    rows = ((np.arange(ny) + 0.5) * h / ny).astype(int)
    cols = ((np.arange(nx) + 0.5) * w / nx).astype(int)
    markers = np.zeros((h, w), np.int32)
    markers[rows[:, None], cols[None, :]] = np.arange(1, ny * nx + 1).reshape(ny, nx)
    cv2.watershed(colour, markers)  # in place: region ids, -1 on the lines between them
    _join_lines(markers, colour)
    return markers - 1


def _merge(regions: np.ndarray, colour: np.ndarray, scale: float = SEGMENT_SCALE, min_size: int = SEGMENT_MIN_SIZE) -> np.ndarray:
    """Felzenszwalb-Huttenlocher on the regions' adjacency graph, an edge weighing the distance of
    the two mean colours: (H, W) labels 0..n-1 of the merged segments."""
    n = int(regions.max()) + 1
    flat = regions.ravel()
    size = np.bincount(flat, minlength=n).astype(np.float64)
    pixels = colour.reshape(-1, 3).astype(np.float64)
    mean = np.stack([np.bincount(flat, weights=pixels[:, c], minlength=n) for c in range(3)], 1) / np.maximum(size, 1)[:, None]
    a = np.concatenate([regions[:, :-1].ravel(), regions[:-1, :].ravel()])
    b = np.concatenate([regions[:, 1:].ravel(), regions[1:, :].ravel()])
    apart = a != b
    pairs = np.unique(np.minimum(a[apart], b[apart]).astype(np.int64) * n + np.maximum(a[apart], b[apart]))
    first, second = pairs // n, pairs % n
    weight = np.sqrt(((mean[first] - mean[second]) ** 2).sum(axis=1))
    order = np.argsort(weight, kind="stable")
    edges = list(zip(first[order].tolist(), second[order].tolist(), weight[order].tolist()))
    parent, sizes, inner = list(range(n)), size.tolist(), [0.0] * n

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v, wt in edges:  # sorted: wt is the largest inner step of a merged segment
        ru, rv = root(u), root(v)
        if ru != rv and wt <= inner[ru] + scale / sizes[ru] and wt <= inner[rv] + scale / sizes[rv]:
            if sizes[ru] < sizes[rv]:
                ru, rv = rv, ru
            parent[rv], sizes[ru], inner[ru] = ru, sizes[ru] + sizes[rv], wt
    for u, v, _ in edges:  # then segments under min_size join their most similar neighbour
        ru, rv = root(u), root(v)
        if ru != rv and min(sizes[ru], sizes[rv]) < min_size:
            if sizes[ru] < sizes[rv]:
                ru, rv = rv, ru
            parent[rv], sizes[ru] = ru, sizes[ru] + sizes[rv]
    roots = np.array([root(i) for i in range(n)])
    return np.unique(roots, return_inverse=True)[1][regions]


def _join_lines(markers: np.ndarray, colour: np.ndarray) -> None:
    """Give each line pixel (-1; or 0, the odd pixel the flood never reached) the id of its
    4-neighbour nearest in colour (in place); a corner of the image border, whose neighbours are
    lines too, is reached on the second pass."""
    h, w = markers.shape
    chans = [c.astype(np.int16) for c in cv2.split(colour)]
    for _ in range(3):
        ys, xs = np.nonzero(markers <= 0)
        if ys.size == 0:
            return
        here = [c[ys, xs] for c in chans]
        best = np.full(ys.size, np.iinfo(np.int16).max, np.int16)
        label = np.full(ys.size, -1, np.int32)
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            ny, nx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)
            theirs = markers[ny, nx]
            step = sum(np.abs(c[ny, nx] - c0) for c, c0 in zip(chans, here))
            take = (theirs > 0) & (step < best)
            best[take], label[take] = step[take], theirs[take]
        markers[ys, xs] = label
    if (markers <= 0).any():  # an image of lines only (a dimension of 1-2 px): one segment
        markers[markers <= 0] = 1


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
    lab = labels[ys, xs]
    support = np.bincount(lab, minlength=n).astype(np.float64)
    d = disparity[ys, xs].astype(np.float64)
    x, y = xs / 100.0, ys / 100.0
    # the normal equations' nine sums per segment (1, x, y, xx, xy, yy | d, xd, yd), each a
    # weighted bincount; the products are formed once, the IRLS weights multiply them per round
    terms = np.stack([np.ones_like(d), x, y, x * x, x * y, y * y, d, x * d, y * d])
    ridge = RIDGE * support + 1e-6
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
