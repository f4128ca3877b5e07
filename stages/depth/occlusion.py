"""Occlusion handling for a dense disparity map: drop what the geometry says is wrong, extend the border.

Half the default stage's dense errors on Middlebury Motorcycle are pixels the right camera
cannot see (8.8% of the ground truth's pixels, answered with EPE 8-13 px; see
``benchmarks/depth_occlusion.py``). No matcher measures them and no fill from their neighbours
gets them right: even with the true occlusion mask, the background-first fill is 56% wrong
there (the background behind the bike is seen nowhere near). What can be done is to answer
them less: a disparity map is geometrically impossible where two left pixels land on one right
pixel (the uniqueness and ordering constraints, Marr and Poggio 1976; used for occlusion
detection by Egnal and Wildes, PAMI 2002), and the pixels involved are the suspects:

- *occluded*: a pixel some pixel to its right lands at or left of (the pixel right of it sees
  a nearer surface over its match): mostly background hidden from the right camera, or fill
  values that disagree with the geometry; measured 34% wrong by > 2 px on Motorcycle,
  against 8% over the whole output;
- *shadowing fills*: a filled pixel some pixel to its left lands at or right of (it covers a
  pixel seen further left): fills that grew a foreground surface over the background,
  measured 52% wrong.

Both are dropped (unknown). The band at the left border, where the right camera sees nothing,
is the reverse case: there the output was empty, and the surface to its right usually goes on;
it is extended leftwards from the first answered pixel of the row for as long as the image
has no intensity step (which would be the surface's edge). On Motorcycle that band is 3.5% of
the ground truth's pixels, and extended 1% wrong.

Pure numpy/OpenCV on (H, W) arrays; disparities as in stereo.py (left view, ``x_right = x_left
- d``, ``<= 0`` unknown).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sensorium.stages.depth import stereo

#: an intensity step (grey levels between neighbouring pixels) above which the border band's
#: extension stops: the surface's edge
BORDER_STEP = 10


def landing(disparity: np.ndarray) -> np.ndarray:
    """Where each left pixel lands in the right image, ``x - d``: (H, W) float32, NaN where unknown."""
    h, w = disparity.shape
    xs = np.arange(w, dtype=np.float32)[None, :]
    return np.where(disparity > 0, xs - disparity, np.float32(np.nan)).astype(np.float32)


def ordering_violations(disparity: np.ndarray, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(occluded, shadowing)``: (H, W) bool masks of pixels that break uniqueness along their row.

    disparity: (H, W) float32, ``<= 0`` unknown. ``occluded``: some known pixel to the right
    lands at or left of this one's landing point; ``shadowing``: some known pixel to the left
    lands at or right of it; either by more than ``margin`` px. A correct map of opaque surfaces has neither (up to sub-pixel
    noise at slanted surfaces: measured a few per cent of correct pixels flagged).
    """
    if disparity.ndim != 2:
        raise ValueError(f"disparity: expected an (H, W) map, got {disparity.shape}")
    h, _ = disparity.shape
    land = landing(disparity)
    known = disparity > 0
    inf = np.float32(np.inf)
    low = np.where(known, land, inf)
    # nearest landing point strictly to the right / left of each pixel
    right_min = np.minimum.accumulate(low[:, ::-1], axis=1)[:, ::-1]
    right_min = np.concatenate([right_min[:, 1:], np.full((h, 1), inf, np.float32)], axis=1)
    high = np.where(known, land, -inf)
    left_max = np.maximum.accumulate(high, axis=1)
    left_max = np.concatenate([np.full((h, 1), -inf, np.float32), left_max[:, :-1]], axis=1)
    return known & (right_min <= low - margin), known & (left_max >= high + margin)


def extend_left_border(disparity: np.ndarray, grey: np.ndarray, max_step: int = BORDER_STEP) -> tuple[np.ndarray, np.ndarray]:
    """``(out, extended)``: the unknown run at each row's start takes the row's first known value,
    up to the first intensity step above ``max_step`` between neighbouring pixels (searching
    leftwards from that value). (H, W) float32 and bool; other pixels are unchanged.

    The left band is what the right camera cannot see (``x < d``); its surface is usually the
    one to its right carried on, unless an image edge says another surface begins.
    """
    if disparity.shape != grey.shape[:2]:
        raise ValueError(f"disparity {disparity.shape} and image {grey.shape} differ in size")
    h, w = disparity.shape
    known = disparity > 0
    first = np.where(known.any(axis=1), known.argmax(axis=1), w)  # (H,) first known column, w if none
    out = disparity.astype(np.float32, copy=True)
    ext = np.zeros((h, w), bool)
    if not (first < w).any():
        return out, ext
    # only the columns left of the last row's first known one can be extended: work on those
    band = int(first[first < w].max()) + 1
    g = stereo.to_grey(grey)[:, :min(band + 1, w)].astype(np.int16)
    step = np.zeros((h, band), np.int32)
    step[:, :g.shape[1] - 1] = np.abs(np.diff(g, axis=1)) > max_step  # between x and x + 1
    # steps at or right of x (within the band): a pixel is reachable if none lies in [x, first)
    after = np.cumsum(step[:, ::-1], axis=1)[:, ::-1]
    at_first = np.take_along_axis(after, np.minimum(first, band - 1)[:, None], axis=1)  # steps at or right of `first`
    ext[:, :band] = (np.arange(band)[None, :] < first[:, None]) & (first[:, None] < w) & (after - at_first == 0)
    seed = np.take_along_axis(disparity, np.minimum(first, w - 1)[:, None], axis=1).astype(np.float32)
    out[ext] = np.broadcast_to(seed, (h, w))[ext]
    return out, ext


def drop_occluded(maps: stereo.StereoMaps, grey: np.ndarray, block_size: int = 3, margin: float = 0.0,
                  confirmed: np.ndarray | None = None) -> stereo.StereoMaps:
    """``maps`` with occluded pixels and shadowing fills made unknown and the left border band extended.

    maps: the output of :func:`stereo.match` (with filling); grey: (H, W) uint8 (or RGB) left
    image; margin: px by which a violation must exceed to count (0: any; larger keeps more
    pixels, less accurately: measured in docs/benchmarks.md); confirmed: (H, W) bool, pixels a
    second, independent matcher agrees with (cross_check.py's ``agreed``): they are kept where
    their match lands inside the right image (beyond it both matchers only see the padding).
    Dropped pixels get disparity -1 and confidence 0, no longer matched nor filled;
    extended ones are filled, with the fill's confidence ceiling times the texture floor.
    """
    occluded, shadowing = ordering_violations(maps.disparity, margin)
    drop = occluded | (shadowing & maps.filled)
    if confirmed is not None:
        if confirmed.shape != maps.disparity.shape:
            raise ValueError(f"confirmed {confirmed.shape} does not match the disparity {maps.disparity.shape}")
        drop &= ~(confirmed & (landing(maps.disparity) >= block_size // 2 + 1))
    disp = np.where(drop, np.float32(-1), maps.disparity).astype(np.float32)
    disp, extended = extend_left_border(disp, grey)
    conf = np.where(drop, np.float32(0), maps.confidence).astype(np.float32)
    if extended.any():
        conf[extended] = stereo.FILLED_CONFIDENCE * stereo.texture_confidence(stereo.to_grey(grey), block_size)[extended]
    return replace(maps, disparity=disp, confidence=conf, matched=maps.matched & ~drop, filled=(maps.filled & ~drop) | extended)
