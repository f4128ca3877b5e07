"""Full-resolution sub-pixel refinement of a disparity map matched at reduced resolution.

Matching at half size (``preset=fast``, ``downscale``) costs a quarter of the pixels, but the
upsampled map keeps half-size precision: each disparity step is 2 px and SGBM's sub-pixel
parabola at half size is blurred by the downsampling. This refits every pixel's disparity at
full resolution within a narrow band around the upsampled value: the cost of a few candidate
offsets is the absolute difference of the horizontal intensity gradients (blind to gain and
offset between the cameras, which grey-level differences are not: measured better on
Motorcycle, docs/benchmarks.md), summed over a small box, and a parabola through the minimum
and its two neighbours gives the offset. The band is narrow (a fraction of a pixel either side)
so the refit only sharpens the value SGBM chose and cannot jump to another match: a wider band
with this local cost measured worse than none on Motorcycle (the aggregated SGBM cost is the
better judge of *which* match, the gradients of *where exactly*).
"""

from __future__ import annotations

import cv2
import numpy as np

#: candidate offsets (full-resolution pixels) around the upsampled disparity; measured best of
#: 0.25 / 0.5 px steps over +-0.5 / 1 / 1.5 px bands (docs/benchmarks.md, #15 fifth round)
OFFSETS = (-0.5, -0.25, 0.0, 0.25, 0.5)
#: side of the box the gradient differences are summed over (3 / 5 / 7 / 9 measured; 5 best)
WINDOW = 5


def _gradient(grey: np.ndarray) -> np.ndarray:
    """Horizontal intensity gradient (grey levels per pixel): (H, W) float32."""
    return cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3, scale=0.25)


def refine_subpixel(left: np.ndarray, right: np.ndarray, disparity: np.ndarray, offsets: tuple[float, ...] = OFFSETS,
                    window: int = WINDOW) -> np.ndarray:
    """``disparity`` refitted to sub-pixel precision at full resolution: (H, W) float32.

    left, right: rectified (H, W) uint8 grey images; disparity: (H, W) float32 in the left
    view (``x_right = x_left - d``), ``<= 0`` unknown (returned unchanged there), e.g. a half-
    size match upsampled. ``offsets``: the candidates tried around each pixel's value, evenly
    spaced and ascending (at least 3); the result stays within the band they span (at its ends,
    where no parabola can be fitted, it takes the end).
    """
    if left.ndim != 2 or left.dtype != np.uint8 or right.shape != left.shape or right.dtype != np.uint8:
        raise ValueError(f"refine_subpixel: expected two (H, W) uint8 grey images of one shape, got {left.shape} {left.dtype} "
                         f"and {right.shape} {right.dtype}")
    if disparity.shape != left.shape:
        raise ValueError(f"refine_subpixel: disparity {disparity.shape} and images {left.shape} differ in size")
    steps = np.diff(offsets)
    if len(offsets) < 3 or not np.all(steps > 0) or not np.allclose(steps, steps[0]):
        raise ValueError(f"refine_subpixel: expected >= 3 evenly spaced ascending offsets, got {offsets}")
    if window < 1 or window % 2 == 0:
        raise ValueError(f"refine_subpixel: expected an odd window >= 1, got {window}")
    h, w = left.shape
    valid = disparity > 0
    gl, gr = _gradient(left), _gradient(right)
    # x - d as the remap's column map; each candidate shifts it by its offset
    base = np.arange(w, dtype=np.float32)[None, :] - np.where(valid, disparity, np.float32(0)).astype(np.float32)
    ys = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    costs = np.empty((len(offsets), h, w), np.float32)  # (K, H, W)
    for i, k in enumerate(offsets):
        shifted = cv2.remap(gr, base - np.float32(k), ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        cv2.blur(cv2.absdiff(gl, shifted), (window, window), dst=costs[i])
    best = np.argmin(costs, axis=0)  # (H, W)
    mid = np.clip(best, 1, len(offsets) - 2)
    c0, c1, c2 = (np.take_along_axis(costs, (mid + j)[None], axis=0)[0] for j in (-1, 0, 1))
    curvature = c0 - 2 * c1 + c2
    inner = (best == mid) & (curvature > 1e-6)  # a minimum inside the band, with a proper parabola
    shift = np.where(inner, 0.5 * (c0 - c2) / np.where(inner, curvature, np.float32(1)), np.float32(0))
    step = np.float32(steps[0])
    refined = disparity + (np.asarray(offsets, np.float32)[best] + shift * step)
    return np.where(valid & (refined > 0), refined, disparity).astype(np.float32)
