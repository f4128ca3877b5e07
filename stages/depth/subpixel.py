"""Full-resolution sub-pixel refinement of a disparity map matched at reduced resolution.

Matching at half size (``preset=fast``, ``downscale``) costs a quarter of the pixels, but the
upsampled map keeps half-size precision: each disparity step is 2 px and SGBM's sub-pixel
parabola at half size is blurred by the downsampling. This refits each pixel's disparity at
full resolution with one 1-D Lucas-Kanade step (Lucas and Kanade 1981) on the horizontal
intensity *gradients* (blind to gain and offset between the cameras; on grey levels the refit
measured worse on Motorcycle): the right gradient image is warped by the disparity, linearised
in the shift, and the least-squares shift over a small box is clamped to +-0.5 px, so the refit
only sharpens the value SGBM chose and cannot jump to another match (the aggregated SGBM cost
is the better judge of *which* match, a local cost of *where exactly*; a wider band with a
local cost measured worse than none on Motorcycle, docs/benchmarks.md, #15 fifth round).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

#: side of the box the least-squares shift is summed over (5 and 7 measured; 5 better)
WINDOW = 5
#: the refit moves a disparity by at most this much (0.5, 0.75 and 1 measured; 0.5 best)
MAX_SHIFT = 0.5
#: damping of the normal equation (box mean of the squared gradient slope): on flat patches,
#: where the slope is ~0, the shift stays ~0 instead of following noise
DAMPING = 1.0


@lru_cache(maxsize=8)
def _rows(h: int, w: int) -> np.ndarray:
    """(h, w) float32 map of each pixel's row, read-only (shared between calls)."""
    ys = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    ys.flags.writeable = False
    return ys


def _gradient(grey: np.ndarray) -> np.ndarray:
    """Horizontal intensity gradient (grey levels per pixel): (H, W) float32."""
    return cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3, scale=0.25)


def refine_subpixel(left: np.ndarray, right: np.ndarray, disparity: np.ndarray, window: int = WINDOW,
                    max_shift: float = MAX_SHIFT) -> np.ndarray:
    """``disparity`` refitted to sub-pixel precision at full resolution: (H, W) float32.

    left, right: rectified (H, W) uint8 grey images; disparity: (H, W) float32 in the left
    view (``x_right = x_left - d``), ``<= 0`` unknown (returned unchanged there), e.g. a half-
    size match upsampled. Each known pixel moves by at most ``max_shift`` px (and stays > 0).
    """
    if left.ndim != 2 or left.dtype != np.uint8 or right.shape != left.shape or right.dtype != np.uint8:
        raise ValueError(f"refine_subpixel: expected two (H, W) uint8 grey images of one shape, got {left.shape} {left.dtype} "
                         f"and {right.shape} {right.dtype}")
    if disparity.shape != left.shape:
        raise ValueError(f"refine_subpixel: disparity {disparity.shape} and images {left.shape} differ in size")
    if window < 1 or window % 2 == 0 or not max_shift > 0:
        raise ValueError(f"refine_subpixel: expected an odd window >= 1 and max_shift > 0, got {window}, {max_shift}")
    h, w = left.shape
    valid = disparity > 0
    gl, gr = _gradient(left), _gradient(right)
    slope = cv2.Sobel(gr, cv2.CV_32F, 1, 0, ksize=1, scale=0.5)  # d(gr)/dx, central difference
    # both warped in one remap: the right gradient and its slope at x - d
    cols = np.arange(w, dtype=np.float32)[None, :] - np.where(valid, disparity, np.float32(0)).astype(np.float32)
    warped = cv2.remap(cv2.merge([gr, slope]), cols, _rows(h, w), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    w0, w1 = warped[:, :, 0], warped[:, :, 1]
    # gr(x - d - s) ~ w0 - s w1: minimise sum_box (gl - w0 + s w1)^2 over s
    residual = gl - w0
    k = (window, window)
    num = cv2.blur(residual * w1, k)
    den = cv2.blur(w1 * w1, k)
    den += np.float32(DAMPING)
    shift = np.clip(num / den, -max_shift, max_shift)  # s = -sum(e w1) / sum(w1^2); refined d = d + s
    refined = disparity - shift
    return np.where(valid & (refined > 0), refined, disparity).astype(np.float32)
