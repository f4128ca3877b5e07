"""Automatic disparity range: a coarse match finds where the scene's disparities lie.

SGBM searches ``[min_disparity, min_disparity + num_disparities)`` and cannot see outside it:
an object nearer than the range's end gets a wrong, confident disparity, a range much wider
than the scene costs time in proportion. A user should not need to know their rig's range, so
a coarse SGBM pass at 1/4 scale over a wide *signed* range (both signs: a pair given swapped has
negative disparities, which is how it is recognised) gives the scene's robust minimum and
maximum; the full-resolution match then runs over that with a margin. At 1/4 scale the pass
costs about a tenth of SGBM-64 at full resolution.

On video, :class:`RangeTracker` keeps the range per source with hysteresis: it widens at once
when the scene comes nearer (a near object entering is matched correctly in its first frame)
and narrows slowly, so the range does not flicker with noise in the estimate.

Disparities follow stereo.py's convention: left view, ``x_right = x_left - d``, in full-
resolution pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from sensorium.stages.depth import stereo

#: the coarse pass runs at 1 / COARSE_SCALE of the image's size (less for images under 256 px
#: wide: it keeps the coarse image at least 64 px wide, or nothing would match in it)
COARSE_SCALE = 4
#: share of textured, matched coarse pixels below which the pair is taken as having no texture
MIN_MATCHED = 0.02
#: share of matched coarse pixels with negative disparity above which the pair is taken as swapped
SWAPPED_FRACTION = 0.6


@dataclass(frozen=True)
class DisparityRange:
    """A search range in full-resolution pixels: ``[min_disparity, min_disparity + num_disparities)``.

    ``method``: how it was chosen, ``auto`` (coarse pass), ``explicit`` (configured) or
    ``metric`` (configured depth range through the calibration's f B).
    """

    min_disparity: int
    num_disparities: int
    method: str

    def __post_init__(self) -> None:
        if self.num_disparities <= 0 or self.num_disparities % 16:
            raise ValueError(f"num_disparities: expected a positive multiple of 16, got {self.num_disparities}")
        if self.method not in ("auto", "explicit", "metric"):
            raise ValueError(f"range method: expected auto, explicit or metric, got {self.method!r}")

    @property
    def max_disparity(self) -> int:
        """One past the largest disparity searched."""
        return self.min_disparity + self.num_disparities


@dataclass(frozen=True)
class CoarseEstimate:
    """What the coarse pass saw, in full-resolution pixels.

    low/high: robust (0.5th and 99.5th percentile) minimum and maximum of the matched coarse
    disparities (None when too few matched). matched_fraction: share of coarse pixels matched.
    negative_fraction: share of the matched ones with negative disparity (a swapped pair).
    disparities: (h, w) float32 coarse disparity map in full-resolution pixels, NaN unmatched.
    ceiling: one past the largest disparity the pass could see. scale: the pass's 1/scale size.
    """

    low: float | None
    high: float | None
    matched_fraction: float
    negative_fraction: float
    disparities: np.ndarray
    ceiling: float
    scale: int = COARSE_SCALE

    def saturated_fraction(self, max_disparity: float) -> float:
        """Share of matched coarse pixels at or beyond ``max_disparity`` (nearer than the range sees)."""
        d = self.disparities
        matched = np.isfinite(d)
        if not matched.any():
            return 0.0
        # a coarse pixel is a 4 px step: count those whose disparity is beyond the end by more
        # than half a step, so a surface lying right at the end is not called saturated
        return float((d[matched] >= max_disparity + self.scale / 2).mean())


def _round_up16(n: float) -> int:
    return max(16, int(math.ceil(n / 16.0)) * 16)


def coarse_estimate(left: np.ndarray, right: np.ndarray, max_disparity: int, scale: int = COARSE_SCALE) -> CoarseEstimate:
    """Match the pair at 1/``scale`` (less below 64 x ``scale`` px wide) over ``[-max_disparity / 2,
    max_disparity)`` (full-res pixels, both ends rounded up to 16 coarse pixels;
    ``max_disparity`` capped at the image's width).

    left, right: rectified (H, W) uint8 grey images, same shape. ``max_disparity``: the largest
    disparity looked for, in full-resolution pixels. ``scale``: 4 by default; the fast preset
    uses 8 (a quarter of the pixels and half the disparities: ~1/8 of the pass's cost).
    """
    if scale < 1:
        raise ValueError(f"coarse scale: expected >= 1, got {scale}")
    h, w = left.shape[:2]
    n = max(1, min(scale, w // 64))
    small = (max(w // n, 8), max(h // n, 8))
    ls, rs = (cv2.resize(img, small, interpolation=cv2.INTER_AREA) for img in (left, right))
    # no disparity exceeds the image's width: a small image gets a small search
    pos = _round_up16(min(max_disparity, w) / n)
    neg = _round_up16(pos / 2)
    # uniqueness 15 and a speckle filter: the percentiles must come from real matches only
    params = stereo.SGBMParams(num_disparities=pos + neg, min_disparity=-neg, block_size=5, uniqueness_ratio=15,
                               speckle_window=50, speckle_range=1)
    # not stereo.compute_disparity: it calls d <= 0 unknown, and here 0 and negatives are real
    raw = _signed_sgbm(ls, rs, params)
    textured = stereo.texture_strength(ls) >= 1.0
    matched = np.isfinite(raw) & textured
    disparities = np.where(matched, raw * n, np.nan).astype(np.float32)
    frac = float(matched.mean())
    vals = disparities[matched]
    if vals.size < max(20, MIN_MATCHED * matched.size):
        return CoarseEstimate(None, None, frac, 0.0, disparities, float(pos * n), n)
    high = float(np.percentile(vals, 99.5))
    # pixels left of the largest disparity may have their match outside the right image: they
    # meet the black padding and give spurious small disparities, so the low end ignores them
    inner = matched.copy()
    inner[:, : int(math.ceil(max(high, 0) / n))] = False
    low = float(np.percentile(disparities[inner], 0.5)) if inner.sum() >= 20 else float(np.percentile(vals, 0.5))
    return CoarseEstimate(float(low), float(high), frac, float((vals < 0).mean()), disparities, float(pos * n), n)


def _signed_sgbm(a: np.ndarray, b: np.ndarray, params: stereo.SGBMParams) -> np.ndarray:
    """SGBM disparity over a range that may include negatives: (h, w) float32, NaN unmatched.

    Both images get black columns on both sides (the search's positive part on the left, its
    negative part on the right), so every pixel has its whole search inside the padded image
    and SGBM never sees an image narrower than its range.
    """
    right_pad = max(-params.min_disparity, 0)
    left_pad = params.num_disparities - right_pad  # the positive part: padded width >= the range
    a = cv2.copyMakeBorder(a, 0, 0, left_pad, right_pad, cv2.BORDER_CONSTANT, value=0)
    b = cv2.copyMakeBorder(b, 0, 0, left_pad, right_pad, cv2.BORDER_CONSTANT, value=0)
    raw = params.matcher().compute(a, b)[:, left_pad : left_pad + a.shape[1] - left_pad - right_pad]
    out = raw.astype(np.float32) * np.float32(1 / 16)
    out[raw < params.min_disparity * 16] = np.nan
    return out


def auto_range(est: CoarseEstimate, ceiling: int) -> tuple[float, float] | None:
    """(low, high) disparities to search, with margins, from a coarse estimate; None if unknown.

    The margins cover the coarse pass's quantisation (one coarse pixel is 4 px), sub-pixel
    spread and thin structures the 1/4-scale image missed: 4 px + 5% either side.
    """
    if est.low is None or est.high is None:
        return None
    low = max(0.0, est.low * 0.95 - est.scale)
    high = min(float(ceiling), est.high * 1.05 + est.scale)
    return low, max(high, low + 16)


def to_range(low: float, high: float, method: str, ceiling: int) -> DisparityRange:
    """The SGBM range covering ``[low, high]`` (integer start, length a multiple of 16, within ``ceiling``)."""
    start = max(0, int(math.floor(low)))
    num = _round_up16(high - start + 1)
    if start + num > ceiling:  # keep the near end: what is lost is the far end of a huge range
        start = max(0, ceiling - num)
    return DisparityRange(start, num, method)


def metric_range(focal_px: float, baseline_m: float, min_depth_m: float, max_depth_m: float) -> tuple[float, float]:
    """Disparities of a depth range: d = f B / Z, so ``[f B / max_depth, f B / min_depth]``."""
    if focal_px <= 0 or baseline_m <= 0 or not 0 < min_depth_m < max_depth_m:
        raise ValueError(f"metric disparity range: expected f, B > 0 and 0 < min_depth_m < max_depth_m, got "
                         f"f={focal_px}, B={baseline_m}, depth [{min_depth_m}, {max_depth_m}]")
    return focal_px * baseline_m / max_depth_m, focal_px * baseline_m / min_depth_m


class RangeTracker:
    """Hysteresis on one source's range: widen at once, narrow slowly.

    ``update(low, high)`` returns the (low, high) to search this frame: any estimate outside
    the current range is taken at once; an estimate inside it pulls the range in by
    ``shrink`` (a fraction of the gap) per frame, so after a near object leaves, the range
    takes ~``1 / shrink`` frames to tighten.
    """

    def __init__(self, shrink: float = 0.1) -> None:
        if not 0 < shrink <= 1:
            raise ValueError(f"shrink: expected a fraction in (0, 1], got {shrink}")
        self.shrink = shrink
        self.low: float | None = None
        self.high: float | None = None

    def update(self, low: float, high: float) -> tuple[float, float]:
        if self.low is None or self.high is None:
            self.low, self.high = low, high
        else:
            self.low = low if low < self.low else self.low + self.shrink * (low - self.low)
            self.high = high if high > self.high else self.high - self.shrink * (self.high - high)
        return self.low, self.high
