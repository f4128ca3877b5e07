"""Depth and disparity pictures that show structure: colour by inverse depth over a robust range.

Colouring depth linearly from 0 to a high percentile spends the colour map on the few far
pixels: on the chessboard pair the board (0.34-0.43 m) and the wall came out one flat red.
Inverse depth (or disparity, which is proportional to it) gives near things the resolution,
as the eye and the stereo matcher do, and the 2nd-98th percentile of the valid pixels keeps
spurious far or near matches from setting the ends. Near is red, far is dark blue (turbo),
unknown is black. :class:`DepthColorizer` holds one range per stream and lets it drift slowly,
so colours mean the same from frame to frame; the functions colour a single map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from sensorium.stages.results import Depth

#: (256, 3) uint8 RGB colour table: entry 0 black (unknown), 1 .. 255 the turbo map from far
#: (dark blue) to near (dark red). One table lookup colours and blanks at once.
LUT: np.ndarray = np.vstack([np.zeros((1, 3), np.uint8), cv2.cvtColor(cv2.applyColorMap(
    np.round(np.linspace(0, 255, 255)).astype(np.uint8)[None], cv2.COLORMAP_TURBO), cv2.COLOR_BGR2RGB)[0]])
_LUT = np.ascontiguousarray(LUT[:, None, :])
#: percentiles of the valid values that set the colour range's ends
PERCENTILES = (2.0, 98.0)
#: about this many pixels (a regular grid) set the percentiles
SAMPLE = 20_000

Unit = Literal["m", "px"]


@dataclass(frozen=True)
class ColorRange:
    """The values mapped to the colour map's ends: ``lo`` (far, blue) to ``hi`` (near, red), in
    inverse metres for depth (``unit="m"``) or pixels of disparity (``unit="px"``). Values
    outside are clipped to the end colours."""

    lo: float
    hi: float
    unit: Unit = "m"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lo) and np.isfinite(self.hi) and 0 <= self.lo < self.hi):
            raise ValueError(f"ColorRange: expected finite 0 <= lo < hi, got lo={self.lo} hi={self.hi}")
        if self.unit not in ("m", "px"):
            raise ValueError(f"ColorRange.unit: expected 'm' or 'px', got {self.unit!r}")

    @classmethod
    def metres(cls, near_m: float, far_m: float) -> "ColorRange":
        """The range from ``near_m`` (red) to ``far_m`` (blue) metres, 0 < near < far."""
        if not 0 < near_m < far_m:
            raise ValueError(f"ColorRange.metres: expected 0 < near < far metres, got near={near_m} far={far_m}")
        return cls(1.0 / far_m, 1.0 / near_m, "m")

    def index(self, values: np.ndarray) -> np.ndarray:
        """(H, W) uint8 rows of :data:`LUT` for (H, W) ``values`` in this range's space: 1 (far,
        ``lo`` and below) .. 255 (near, ``hi`` and above)."""
        v = np.maximum(np.asarray(values, np.float32), np.float32(self.lo))  # below lo would come back as |.|
        scale = 254.0 / (self.hi - self.lo)
        return cv2.convertScaleAbs(v, alpha=scale, beta=1.0 - self.lo * scale)  # rounds, saturates at 255


def _validated(values: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise ValueError(f"{what}: expected (H, W) numbers, got {arr.shape} {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    return arr, np.isfinite(arr) & (arr > 0)


def inverse_depth(depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float32 inverse depth (1/m, 0 where unknown) and the (H, W) bool valid mask of
    ``depth_m`` ((H, W) metres, <= 0 or not finite where unknown)."""
    depth, valid = _validated(depth_m, "depth")
    inv = np.zeros_like(depth)
    np.divide(1.0, depth, out=inv, where=valid)
    return inv, valid


def robust_range(values: np.ndarray, valid: np.ndarray, unit: Unit, percentiles: tuple[float, float] = PERCENTILES) -> ColorRange | None:
    """The ``percentiles`` of the valid ``values`` (inverse depth or disparity) as a range; None
    without valid values. A flat map gets a range of +-5 % around its value."""
    step = max(1, int(np.sqrt(values.size / SAMPLE)))  # a grid subsample: the range, not every pixel, is wanted
    sample = values[::step, ::step][valid[::step, ::step]]
    if sample.size == 0:
        sample = values[valid]  # a sparse map the grid missed
    if sample.size == 0:
        return None
    lo, hi = (float(v) for v in np.percentile(sample, percentiles))
    if hi <= lo * 1.0001:
        lo, hi = 0.95 * lo, 1.05 * hi
    return ColorRange(max(lo, 0.0), hi, unit)


def with_far_end(rng: ColorRange, far_m: float) -> ColorRange:
    """``rng`` (inverse metres) with its far end moved to ``far_m`` metres (its near end kept
    unless that is farther)."""
    return ColorRange(1.0 / far_m, max(rng.hi, 1.0001 / far_m), "m")


def colorize(values: np.ndarray, valid: np.ndarray, rng: ColorRange) -> np.ndarray:
    """(H, W, 3) uint8 RGB of (H, W) ``values`` in ``rng``'s space, black where not ``valid``."""
    index = rng.index(values)
    np.multiply(index, np.ascontiguousarray(valid).view(np.uint8), out=index)  # row 0: black
    return cv2.applyColorMap(index, _LUT)  # a user table: ~10x faster than a numpy gather


def colorize_depth(depth_m: np.ndarray, max_depth: float | None = None, *, rng: ColorRange | None = None) -> np.ndarray:
    """Colour a depth map by inverse depth: near red, far dark blue, unknown black.

    depth_m: (H, W) metres, <= 0 or not finite where unknown. ``rng`` fixes the colour range;
    else the 2nd-98th percentile of the valid inverse depths, with the far end at ``max_depth``
    metres when given. Returns (H, W, 3) uint8 RGB.
    """
    if max_depth is not None and not max_depth > 0:
        raise ValueError(f"colorize_depth: expected max_depth > 0 metres, got {max_depth}")
    inv, valid = inverse_depth(depth_m)
    if rng is None:
        rng = robust_range(inv, valid, "m")
        if rng is None:
            return np.zeros((*inv.shape, 3), np.uint8)
        if max_depth is not None:
            rng = with_far_end(rng, max_depth)
    return colorize(inv, valid, rng)


def colorize_disparity(disparity: np.ndarray, rng: ColorRange | None = None) -> np.ndarray:
    """Colour a disparity map (pixels, <= 0 where unknown) as :func:`colorize_depth` does depth:
    large disparity (near) red; the range is the 2nd-98th percentile unless ``rng`` is given.
    Returns (H, W, 3) uint8 RGB."""
    disp, valid = _validated(disparity, "disparity")
    rng = rng or robust_range(disp, valid, "px")
    return np.zeros((*disp.shape, 3), np.uint8) if rng is None else colorize(disp, valid, rng)


def depth_values(depth: Depth) -> tuple[np.ndarray, np.ndarray, Unit]:
    """What to colour for a Depth result: its inverse depth when it has metric depth, else its
    disparity (an uncalibrated pair); (values, valid mask, unit)."""
    inv, valid = inverse_depth(depth.depth)
    if valid.any() or depth.disparity is None:
        return inv, valid, "m"
    disp, valid = _validated(depth.disparity, "Depth.disparity")
    return disp, valid, "px"


class DepthColorizer:
    """One stream's depth colouring: a range that starts at the first frame's robust range and
    follows later ones slowly, so a colour keeps meaning one depth from frame to frame.

    adaptation: fraction of the way (in log space: ranges are ratios) the range moves towards
    each frame's own robust range, in (0, 1]; 0.05 settles in ~50 frames, 1 keeps no memory.
    far_m: pins the far (blue) end at that many metres; the near end still follows the scene.
    fixed: a range to use always instead (for maps in its unit). Not thread-safe: one per
    stream, called in order.
    """

    def __init__(self, adaptation: float = 0.05, *, percentiles: tuple[float, float] = PERCENTILES,
                 far_m: float | None = None, fixed: ColorRange | None = None) -> None:
        if not 0 < adaptation <= 1:
            raise ValueError(f"DepthColorizer: expected 0 < adaptation <= 1, got {adaptation}")
        lo_p, hi_p = percentiles
        if not 0 <= lo_p < hi_p <= 100:
            raise ValueError(f"DepthColorizer: expected percentiles 0 <= lo < hi <= 100, got {percentiles}")
        if far_m is not None and not far_m > 0:
            raise ValueError(f"DepthColorizer: expected far_m > 0 metres, got {far_m}")
        self.adaptation, self.percentiles = float(adaptation), (float(lo_p), float(hi_p))
        self.far_m, self.fixed = far_m, fixed
        self.range: ColorRange | None = fixed

    def update(self, values: np.ndarray, valid: np.ndarray, unit: Unit) -> ColorRange | None:
        """Move the range towards this frame's robust range and return it (None before any valid pixel)."""
        if self.fixed is not None and self.fixed.unit == unit:
            return self.fixed
        seen = robust_range(values, valid, unit, self.percentiles)
        if seen is None:
            return self.range if self.range is not None and self.range.unit == unit else None
        if self.far_m is not None and unit == "m":
            seen = with_far_end(seen, self.far_m)
        if self.range is None or self.range.unit != unit:
            self.range = seen
            return seen
        a, cur = self.adaptation, self.range
        floor = 1e-6 * seen.hi  # lo may be 0 (a far end at infinity): log needs a positive floor
        lo = np.exp((1 - a) * np.log(max(cur.lo, floor)) + a * np.log(max(seen.lo, floor)))
        hi = np.exp((1 - a) * np.log(cur.hi) + a * np.log(seen.hi))
        self.range = ColorRange(float(lo), float(max(hi, lo * 1.0001)), unit)
        return self.range

    def __call__(self, depth: Depth) -> tuple[np.ndarray, ColorRange | None]:
        """(H, W, 3) uint8 RGB picture of ``depth`` (black where unknown) and the range it used."""
        values, valid, unit = depth_values(depth)
        rng = self.update(values, valid, unit)
        if rng is None:
            return np.zeros((*values.shape, 3), np.uint8), None
        return colorize(values, valid, rng), rng
