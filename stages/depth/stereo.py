"""Classical stereo: rectification, SGBM matching, left-right check, confidence, hole filling.

Pure functions on numpy arrays (OpenCV main build only: no ximgproc, so no WLS filter and no
``createRightMatcher``). Conventions: images are (H, W, 3) uint8 RGB or (H, W) uint8 grey;
disparities are (H, W) float32 pixels in the *left* rectified view (``x_right = x_left - d``),
``<= 0`` where unknown; depth is (H, W) float32 in the unit of the calibration's T (metres),
0 where unknown.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

from sensorium.stages.camera import StereoCalibration

log = logging.getLogger(__name__)

#: confidence ceiling of pixels the hole filler invented (they are guesses, not measurements)
FILLED_CONFIDENCE = 0.1


# --- rectification ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Rectification:
    """Rectification of one calibration at one image size.

    maps_left/maps_right: ``cv2.initUndistortRectifyMap`` fixed-point maps ``(map1, map2)``, or
    None when the pair is already ideal (identity: no remap, no resampling blur).
    Q: (4, 4) float64 disparity-to-depth matrix (``cv2.reprojectImageTo3D``'s).
    K: (3, 3) float64 intrinsics of the rectified left camera. R: (3, 3) float64 rotation from
    the original left camera frame to the rectified one (``X_rect = R @ X_left``).
    size: (width, height).
    """

    maps_left: tuple[np.ndarray, np.ndarray] | None
    maps_right: tuple[np.ndarray, np.ndarray] | None
    Q: np.ndarray
    K: np.ndarray
    R: np.ndarray
    size: tuple[int, int]

    @property
    def identity(self) -> bool:
        return self.maps_left is None


_CACHE: OrderedDict[tuple, Rectification] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def ideal_q(focal_px: float, cx: float, cy: float, baseline: float) -> np.ndarray:
    """Q of an ideal rectified pair (right camera ``baseline`` to the right, same cx)."""
    if focal_px <= 0 or baseline <= 0:
        raise ValueError(f"ideal_q: expected positive focal length and baseline, got f={focal_px}, B={baseline}")
    return np.array([[1, 0, 0, -cx], [0, 1, 0, -cy], [0, 0, 0, focal_px], [0, 0, 1.0 / baseline, 0]], dtype=np.float64)


def is_rectified(calib: StereoCalibration) -> bool:
    """True when the calibration already describes an ideal rectified pair (no remap needed)."""
    return (
        not np.any(calib.D1) and not np.any(calib.D2)
        and np.allclose(calib.R, np.eye(3), rtol=0, atol=1e-12)
        and np.allclose(calib.K1, calib.K2, rtol=0, atol=1e-9)
        and calib.T[0] < 0 and abs(calib.T[1]) < 1e-12 and abs(calib.T[2]) < 1e-12
        and calib.K1[0, 1] == 0 and calib.K1[0, 0] == calib.K1[1, 1]
    )


def scale_calibration(calib: StereoCalibration, width: int, height: int) -> StereoCalibration:
    """The calibration for images resized to ``width`` x ``height`` (K scaled per axis).

    Raises ValueError when the aspect ratio changes by more than 1%: that is a crop or a
    different camera, which scaling cannot fix.
    """
    if (width, height) == (calib.width, calib.height):
        return calib
    sx, sy = width / calib.width, height / calib.height
    if abs(sx / sy - 1) > 0.01:
        raise ValueError(
            f"stereo calibration is for {calib.width}x{calib.height} images, got {width}x{height} "
            "(a different aspect ratio: recalibrate for this size)"
        )
    S = np.diag([sx, sy, 1.0])
    # with pixel centres at integers, c' = s * (c + 0.5) - 0.5
    def scale(K: np.ndarray) -> np.ndarray:
        out = S @ K
        out[0, 2] = sx * (K[0, 2] + 0.5) - 0.5
        out[1, 2] = sy * (K[1, 2] + 0.5) - 0.5
        return out

    return StereoCalibration(scale(calib.K1), calib.D1, scale(calib.K2), calib.D2, calib.R, calib.T, width, height)


def _cache_key(calib: StereoCalibration, size: tuple[int, int]) -> tuple:
    return (*(getattr(calib, n).tobytes() for n in ("K1", "D1", "K2", "D2", "R", "T")), calib.width, calib.height, size)


def rectification(calib: StereoCalibration, size: tuple[int, int] | None = None) -> Rectification:
    """Rectification maps for ``calib`` at ``size`` = (width, height) (default: the calibration's).

    Cached per calibration contents and size (LRU of 16): building maps costs ~20 ms at VGA,
    more than matching. ``cv2.stereoRectify`` with alpha=0 crops to valid pixels only, so the
    matcher never sees the black borders of undistortion (they would match each other).
    """
    size = (calib.width, calib.height) if size is None else (int(size[0]), int(size[1]))
    key = _cache_key(calib, size)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    calib_s = scale_calibration(calib, *size)
    if abs(calib_s.T[1]) > abs(calib_s.T[0]):
        raise ValueError(f"vertical stereo rig (T = {calib_s.T.tolist()}): only horizontal pairs are supported")
    if is_rectified(calib_s):
        K = calib_s.K1.copy()
        rect = Rectification(None, None, ideal_q(K[0, 0], K[0, 2], K[1, 2], -calib_s.T[0]), K, np.eye(3), size)
    else:
        R1, R2, P1, P2, Q, _, _ = cv2.stereoRectify(
            calib_s.K1, calib_s.D1, calib_s.K2, calib_s.D2, size, calib_s.R, calib_s.T,
            flags=cv2.CALIB_ZERO_DISPARITY, alpha=0, newImageSize=size,
        )
        # fixed-point maps (CV_16SC2) make remap ~2x faster than float maps
        maps_left = cv2.initUndistortRectifyMap(calib_s.K1, calib_s.D1, R1, P1, size, cv2.CV_16SC2)
        maps_right = cv2.initUndistortRectifyMap(calib_s.K2, calib_s.D2, R2, P2, size, cv2.CV_16SC2)
        if Q[3, 2] < 0:  # right camera to the left of the left one: images are swapped
            raise ValueError("stereo calibration puts the right camera left of the left one (T[0] > 0): are left and right swapped?")
        rect = Rectification(maps_left, maps_right, Q, P1[:3, :3].copy(), R1, size)
    with _CACHE_LOCK:
        _CACHE[key] = rect
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return rect


def _check_pair(left: np.ndarray, right: np.ndarray) -> None:
    for name, img in (("left", left), ("right", right)):
        if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
            raise ValueError(f"{name} image: expected (H, W, 3) or (H, W) uint8, got {img.shape} {img.dtype}")
    if left.shape != right.shape:
        raise ValueError(f"left and right images differ in shape: {left.shape} vs {right.shape}")


def rectify(left: np.ndarray, right: np.ndarray, calib: StereoCalibration) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rectify a stereo pair.

    left, right: (H, W, 3) uint8 RGB or (H, W) uint8, same shape. Returns ``(left_r, right_r,
    Q, K_rect)``: the rectified images (same shape and dtype), Q (4, 4) float64 and the
    rectified left camera's K (3, 3) float64. An already ideal pair is returned unchanged.
    """
    _check_pair(left, right)
    rect = rectification(calib, (left.shape[1], left.shape[0]))
    left_r, right_r = remap_pair(left, right, rect)
    return left_r, right_r, rect.Q.copy(), rect.K.copy()


def remap_pair(left: np.ndarray, right: np.ndarray, rect: Rectification) -> tuple[np.ndarray, np.ndarray]:
    """Apply a :class:`Rectification` to a pair of its size (identity: returned unchanged)."""
    if (left.shape[1], left.shape[0]) != rect.size:
        raise ValueError(f"rectification is for {rect.size[0]}x{rect.size[1]} images, got {left.shape[1]}x{left.shape[0]}")
    if rect.identity:
        return left, right
    return cv2.remap(left, *rect.maps_left, cv2.INTER_LINEAR), cv2.remap(right, *rect.maps_right, cv2.INTER_LINEAR)


# --- matching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SGBMParams:
    """Semi-global block matching settings.

    ``MODE_SGBM_3WAY`` aggregates costs along 3 directions in a single pass over rows that
    parallelises across threads; full 8-path SGBM measured 2.4x slower here and HH 3.5x, for
    small accuracy gains on textured scenes. P1/P2 follow OpenCV's guidance (8 and 32 times
    channels x block area): P1 lets slanted surfaces change by one pixel, P2 penalises real
    jumps. ``speckle_window``/``speckle_range`` drop small islands of disparity that differ
    from their surroundings (typical false matches); ``uniqueness_ratio`` (percent) rejects
    matches whose best cost is not clearly below the second best.
    """

    num_disparities: int = 64
    block_size: int = 5
    min_disparity: int = 0
    uniqueness_ratio: int = 10
    speckle_window: int = 100
    speckle_range: int = 2
    pre_filter_cap: int = 63
    use_colour: bool = False
    full_width: bool = True

    def __post_init__(self) -> None:
        if self.num_disparities <= 0 or self.num_disparities % 16:
            raise ValueError(f"num_disparities: expected a positive multiple of 16, got {self.num_disparities}")
        if self.block_size < 1 or self.block_size % 2 == 0 or self.block_size > 11:
            raise ValueError(f"block_size: expected an odd number in 1..11, got {self.block_size}")
        if not 0 <= self.uniqueness_ratio <= 100:
            raise ValueError(f"uniqueness_ratio: expected 0..100, got {self.uniqueness_ratio}")

    def matcher(self) -> cv2.StereoSGBM:
        """A fresh matcher (creation is microseconds; matchers are not shared across threads)."""
        cn = 3 if self.use_colour else 1
        area = self.block_size * self.block_size
        return cv2.StereoSGBM_create(
            minDisparity=self.min_disparity,
            numDisparities=self.num_disparities,
            blockSize=self.block_size,
            P1=8 * cn * area,
            P2=32 * cn * area,
            # our own LR check (see match) measures the error rather than giving a verdict, and
            # SGBM's built-in one removes nothing in 3-way mode (OpenCV 4.13, measured)
            disp12MaxDiff=-1,
            uniquenessRatio=self.uniqueness_ratio,
            speckleWindowSize=self.speckle_window,
            speckleRange=self.speckle_range,
            preFilterCap=self.pre_filter_cap,
            mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
        )


def to_grey(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB → (H, W) uint8; grey input passes through."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _matcher_input(image: np.ndarray, params: SGBMParams) -> np.ndarray:
    if params.use_colour:
        if image.ndim != 3:
            raise ValueError(f"use_colour needs (H, W, 3) images, got {image.shape}")
        return image
    return to_grey(image)


def _sgbm(a: np.ndarray, b: np.ndarray, params: SGBMParams) -> np.ndarray:
    """Disparity of ``a`` against ``b`` (match to the left), -1 where unknown: (H, W) float32.

    SGBM leaves the first ``min_disparity + num_disparities`` columns unmatched because their
    search range leaves the image. With ``full_width`` both images get that many black
    columns on the left, so border pixels whose match lies inside the other image are matched
    too (10% more of a VGA image at 64 disparities, for ~20% more time); pixels whose match
    is outside the frame meet only black and fail the LR check.
    """
    pad = params.min_disparity + params.num_disparities if params.full_width else 0
    if pad:
        a = cv2.copyMakeBorder(a, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)
        b = cv2.copyMakeBorder(b, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)
    raw = params.matcher().compute(a, b)[:, pad:]
    disp = raw.astype(np.float32)
    disp *= np.float32(1 / 16)  # SGBM returns fixed point, 4 fractional bits
    # invalid is (min_disparity - 1) * 16; 0 is infinitely far: unknown too
    disp[raw < max(params.min_disparity * 16, 1)] = -1.0
    return disp


def compute_disparity(left: np.ndarray, right: np.ndarray, params: SGBMParams = SGBMParams()) -> np.ndarray:
    """SGBM disparity of the left view: (H, W) float32 pixels, -1 where no match.

    left, right: rectified (H, W, 3) uint8 RGB or (H, W) uint8, same shape.
    """
    _check_pair(left, right)
    return _sgbm(_matcher_input(left, params), _matcher_input(right, params), params)


def compute_right_disparity(left: np.ndarray, right: np.ndarray, params: SGBMParams = SGBMParams()) -> np.ndarray:
    """SGBM disparity of the *right* view ((H, W) float32, ``x_left = x_right + d``), -1 unknown.

    OpenCV's main build has no right matcher, so mirror the pair: the mirrored right image
    becomes a left image whose match lies to its left in the mirrored left image.
    """
    _check_pair(left, right)
    a, b = cv2.flip(_matcher_input(right, params), 1), cv2.flip(_matcher_input(left, params), 1)  # OpenCV's flip: 2-5x numpy's copy
    return cv2.flip(_sgbm(a, b, params), 1)


#: how the right view for the LR check is matched: (1/fx, 1/fy) of the image's width and height
LR_SCALES = {"full": (1, 1), "half_width": (2, 1), "half": (2, 2)}


def compute_right_disparity_scaled(left: np.ndarray, right: np.ndarray, params: SGBMParams, fx: int, fy: int = 1) -> np.ndarray:
    """:func:`compute_right_disparity` matched at 1/``fx`` width and 1/``fy`` height, back at full
    size and in full-resolution pixels ((H, W) float32, -1 unknown; nearest-neighbour upsampling,
    so unknown pixels do not bleed). For the LR check only: the round trip needs the right view's
    disparity to within a pixel or so, not its detail. Halving the width halves the pixels *and*
    the disparities to search (a quarter of the cost, rows kept: measured better than halving
    both axes at an eighth, see docs/benchmarks.md)."""
    if (fx, fy) == (1, 1):
        return compute_right_disparity(left, right, params)
    h, w = left.shape[:2]
    small = (max(w // fx, 1), max(h // fy, 1))
    ls, rs = (cv2.resize(img, small, interpolation=cv2.INTER_AREA) for img in (left, right))
    lo = params.min_disparity // fx
    hi = -(-(params.min_disparity + params.num_disparities) // fx)
    p = replace(params, min_disparity=lo, num_disparities=max(16, -(-(hi - lo) // 16) * 16))
    dr = compute_right_disparity(ls, rs, p)
    up = cv2.resize(dr, (w, h), interpolation=cv2.INTER_NEAREST) * np.float32(w / small[0])
    return np.where(up > 0, up, np.float32(-1)).astype(np.float32)


@lru_cache(maxsize=8)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) float32 coordinate maps of an (h, w) image, read-only (shared between calls)."""
    xs = np.repeat(np.arange(w, dtype=np.float32)[None, :], h, axis=0)
    ys = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def lr_consistency(disp_left: np.ndarray, disp_right: np.ndarray) -> np.ndarray:
    """Left-right error |dL(x) - dR(x - dL(x))| per left pixel: (H, W) float32, inf where undefined.

    Occluded pixels and mismatches fail the round trip; a correct match returns to itself.
    """
    if disp_left.shape != disp_right.shape:
        raise ValueError(f"left and right disparities differ in shape: {disp_left.shape} vs {disp_right.shape}")
    h, w = disp_left.shape
    # a nearest-neighbour remap does the gather in one OpenCV call (~2x faster than numpy's);
    # outside the right image it reads -1, which marks the pixel undefined below
    xs, ys = _pixel_grid(h, w)
    dr = cv2.remap(np.ascontiguousarray(disp_right, dtype=np.float32), (xs - disp_left).astype(np.float32, copy=False), ys, cv2.INTER_NEAREST,
                   borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)
    err = np.abs(disp_left - dr)
    err[(disp_left <= 0) | (dr <= 0)] = np.inf
    return err


# --- confidence ---------------------------------------------------------------------------------


def texture_strength(grey: np.ndarray, block_size: int = 5) -> np.ndarray:
    """Mean |dI/dx| (grey levels per pixel) over a block: (H, W) float32.

    Only horizontal gradients disambiguate horizontal matching; flat or horizontally
    uniform patches (sky, walls, horizontal edges) make SGBM guess.
    """
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
    return cv2.blur(np.abs(gx), (block_size, block_size))


def texture_confidence(grey: np.ndarray, block_size: int = 5, texture_floor: float = 1.0) -> np.ndarray:
    """``min(1, texture / texture_floor)``: (H, W) float32 in [0, 1].

    A floor, not a score: above ~1 grey level per pixel more texture does not make a match
    better (the strongest gradients sit on depth edges, where matching is *worst*), but below
    it SGBM fills in from its smoothness prior rather than measuring.
    """
    return np.minimum(texture_strength(grey, block_size) / np.float32(texture_floor), 1.0).astype(np.float32)


def confidence_map(
    disparity: np.ndarray,
    grey: np.ndarray,
    lr_error: np.ndarray | None = None,
    max_lr_diff: float = 1.0,
    block_size: int = 5,
    texture_floor: float = 1.0,
    window: int = 9,
    texture: np.ndarray | None = None,
) -> np.ndarray:
    """Per-pixel confidence in [0, 1] of a matched disparity: (H, W) float32, 0 where unknown.

    disparity: (H, W) float32, ``<= 0`` unknown; grey: (H, W) uint8 left image; lr_error:
    (H, W) float32 from :func:`lr_consistency` (None when no LR check ran). Product of three
    cues, each in [0, 1]: the LR round-trip error (``exp(-(err / max_lr_diff)^2 / 2)``), local
    disparity smoothness (``exp(-std / 1 px)`` over ``window`` x ``window`` valid pixels: depth
    edges and noisy patches are where block matching fails) and a texture floor
    (:func:`texture_confidence`). On Middlebury Motorcycle this ranks bad (> 2 px) SGBM
    matches below good ones with ROC AUC 0.78 (LR error alone 0.76), and 0.70 among the
    matches that pass the LR check; on the synthetic sample 0.98 and 0.97.
    """
    valid = disparity > 0
    # local std of the valid disparities (normalised box filters), in place: this runs per frame
    d = np.where(valid, disparity, np.float32(0)).astype(np.float32, copy=False)
    k = (window, window)
    n = cv2.blur(valid.astype(np.float32), k)
    np.maximum(n, np.float32(1e-6), out=n)
    mean = cv2.blur(d, k)
    mean /= n
    std = cv2.blur(cv2.multiply(d, d), k)
    std /= n
    mean *= mean
    std -= mean
    np.maximum(std, np.float32(0), out=std)
    np.sqrt(std, out=std)
    if lr_error is not None:  # the two cues' exponents add up: one exp serves both
        e = np.minimum(lr_error, np.float32(1e3))  # inf: undefined
        e *= np.float32(1 / max(max_lr_diff, 1e-3))
        e *= e
        e *= np.float32(0.5)
        std += e
    np.negative(std, out=std)
    np.exp(std, out=std)
    # texture: a precomputed texture_confidence(grey, block_size, texture_floor), to share it
    conf = std
    conf *= texture_confidence(grey, block_size, texture_floor) if texture is None else texture
    conf[~valid] = 0
    return np.clip(conf, 0, 1, out=conf)


# --- hole filling -------------------------------------------------------------------------------


def _scanline_fill(disp: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Background-favouring fill along rows: ``(filled, unfillable)``, (H, W) float32 and bool.

    Each invalid pixel takes the smaller of the nearest valid disparities left and right of it
    (only the left one if none lies to its right). Holes with no valid pixel to their left are
    ``unfillable``: at the left image border they are background the right camera cannot see,
    and their only neighbour is often the very foreground object that hides it. ``filled``
    still carries the right neighbour there (0 in rows without any match), as a seed for
    smoothing.
    """
    h, w = disp.shape
    cols = np.arange(w, dtype=np.int16 if w < 2**15 else np.int32)
    left_idx = np.maximum.accumulate(np.where(valid, cols, cols.dtype.type(-1)), axis=1)
    right_idx = np.minimum.accumulate(np.where(valid, cols, cols.dtype.type(w))[:, ::-1], axis=1)[:, ::-1]
    # gather at the holes only (a few % of the image), not at every pixel
    ys, xs = np.nonzero(~valid)
    li, ri = left_idx[ys, xs].astype(np.int32), right_idx[ys, xs].astype(np.int32)
    inf = np.float32(np.inf)
    left_val = np.where(li >= 0, disp[ys, np.maximum(li, 0)], inf)
    right_val = np.where(ri < w, disp[ys, np.minimum(ri, w - 1)], inf)
    unfillable_at = li < 0
    fill = np.where(unfillable_at, right_val, np.minimum(left_val, right_val))
    out = disp.astype(np.float32, copy=True)
    out[ys, xs] = np.where(np.isfinite(fill), fill, np.float32(0))
    unfillable = np.zeros_like(valid)
    unfillable[ys[unfillable_at], xs[unfillable_at]] = True
    return out, unfillable


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int = 4, eps: float = 100.0) -> np.ndarray:
    """He et al.'s guided filter with a grey guide (box filters only, O(N) at any radius).

    guide: (H, W) uint8/float; src: (H, W) float32. The output is locally an affine function
    of the guide, so it keeps edges where the guide has strong ones (contrast^2 >> eps,
    eps in grey levels^2) and smooths where the guide is flat.
    """
    I = guide.astype(np.float32)
    p = src.astype(np.float32)
    k = (2 * radius + 1, 2 * radius + 1)
    mean_I, mean_p = cv2.blur(I, k), cv2.blur(p, k)
    cov_Ip = cv2.blur(I * p, k) - mean_I * mean_p
    var_I = cv2.blur(I * I, k) - mean_I * mean_I
    a = cov_Ip / (var_I + np.float32(eps))
    b = mean_p - a * mean_I
    return cv2.blur(a, k) * I + cv2.blur(b, k)


def fill_holes(disparity: np.ndarray, grey: np.ndarray, radius: int = 4, eps: float = 100.0, smooth: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Dense disparity from a sparse one, without crossing image edges.

    disparity: (H, W) float32, ``<= 0`` unknown; grey: (H, W) uint8 left image. Returns
    ``(filled, was_filled)``: (H, W) float32 (``-1`` where still unknown) and (H, W) bool.
    Measured pixels are kept as they are; only holes change.

    Holes are mostly occlusions: background seen by the left camera only, next to the left
    edge of a foreground object. Their true disparity is the background's, i.e. the *smaller*
    neighbour along the scan line, so each hole takes the minimum of its nearest valid
    neighbours left and right (taking the larger would grow foreground objects into the
    background). Holes that reach the left image border stay unknown (see ``_scanline_fill``).
    The scan-line fill leaves horizontal streaks; with ``smooth`` a guided filter with the
    image as guide smooths them while staying on the hole's side of strong image edges. That
    looks better but measures worse (Motorcycle dense bad-2 8.5% with it, 7.8% without; see
    docs/benchmarks.md), so the depth stage's default is ``smooth=False``.
    """
    if disparity.shape != grey.shape[:2]:
        raise ValueError(f"disparity {disparity.shape} and guide image {grey.shape} differ in size")
    valid = disparity > 0
    hole = ~valid
    if not hole.any() or not valid.any():  # nothing to fill, or nothing to fill from
        return disparity.astype(np.float32, copy=True), np.zeros_like(hole)
    seed, unfillable = _scanline_fill(disparity, valid)
    if smooth:
        seed = np.maximum(guided_filter(grey, seed, radius, eps), 0)
    out = np.where(hole, seed, disparity).astype(np.float32)
    out[unfillable] = -1.0
    return out, hole & ~unfillable


def _guard_periodic(lr_error: np.ndarray, disp: np.ndarray, left: np.ndarray, right: np.ndarray, params: SGBMParams,
                    tolerance: float) -> np.ndarray:
    """``lr_error`` set to inf where the full-size round trip passed, the half-size one failed and the
    texture repeats within the range (periodic.py)."""
    from sensorium.stages.depth.periodic import repeats

    half = lr_consistency(disp, compute_right_disparity_scaled(left, right, params, 2, 2)) - np.float32(0.5)
    ys, xs = np.nonzero((lr_error <= tolerance) & (half > tolerance))
    rep = repeats(to_grey(left), to_grey(right), disp, ys, xs, params.min_disparity + params.num_disparities)
    out = lr_error.copy()
    out[ys[rep], xs[rep]] = np.inf
    return out


# --- depth --------------------------------------------------------------------------------------


def disparity_to_depth(disparity: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Metric depth from disparity with Q: Z = Q[2,3] / (Q[3,2] d + Q[3,3]) (= f B / d ideally).

    disparity: (H, W) float32 pixels; Q: (4, 4) from :func:`rectify`. Returns (H, W) float32 in
    T's unit; 0 where d <= 0 (unknown, or a point at infinity) or the denominator is <= 0.
    """
    Q = np.asarray(Q, dtype=np.float64)
    if Q.shape != (4, 4):
        raise ValueError(f"Q: expected (4, 4), got {Q.shape}")
    d = np.asarray(disparity, dtype=np.float32)
    w = d * np.float32(Q[3, 2]) + np.float32(Q[3, 3])
    ok = (d > 0) & (w > 0)
    depth = np.zeros(d.shape, dtype=np.float32)
    depth[ok] = np.float32(Q[2, 3]) / w[ok]
    return depth


# --- the whole matcher --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StereoMaps:
    """Output of :func:`match`: all (H, W) in the rectified left view.

    disparity float32 (``<= 0`` unknown), confidence float32 in [0, 1], matched bool (a
    measurement that passed every check), filled bool (invented by the hole filler).
    """

    disparity: np.ndarray
    confidence: np.ndarray
    matched: np.ndarray
    filled: np.ndarray


def match(
    left: np.ndarray,
    right: np.ndarray,
    params: SGBMParams = SGBMParams(),
    *,
    lr_check: bool = True,
    max_lr_diff: float = 1.0,
    fill: bool = True,
    lr_scale: str = "full",
    fill_filter: str = "guided",
    keep_rejected: bool = False,
    periodic_guard: bool = False,
) -> StereoMaps:
    """SGBM on a rectified pair, then LR check, confidence and hole filling.

    left, right: rectified (H, W, 3) uint8 RGB or (H, W) uint8, same shape. The LR check
    matches the pair a second time, mirrored: about the cost of SGBM itself at ``lr_scale``
    ``full``, a quarter at ``half_width`` (the right view at half width, full height), an eighth
    at ``half``; each halving allows half a pixel more round-trip error. SGBM's built-in ``disp12MaxDiff`` check is free but, measured on
    OpenCV 4.13, removes nothing in 3-way mode, while the mirrored check halves the > 1 px
    error rate of the surviving matches. ``fill_filter``: how holes are filled after the
    scan-line fill, ``none`` (kept as they are), ``guided`` (guided filter on the fill) or
    ``wls`` (the confidence-weighted WLS filter of edge_filter.py, which replaces the fill).
    ``keep_rejected``: when filling, a hole the LR check made keeps SGBM's own value (marked
    filled, low confidence) instead of a neighbour's; only pixels SGBM gave nothing for are
    filled from their neighbours, and holes the fill leaves unknown (the left border band) stay
    unknown; only textured pixels keep theirs (on a bare wall SGBM's value is its smoothness
    prior's: on the chessboard pair, kept there, they put a third of the wall in the board's
    colours). Rejected pixels are mostly thin structures and
    half-occluded slivers whose disparity is in no neighbour: SGBM's value there is wrong by
    > 2 px 29% of the time on Motorcycle, any neighbour-based fill measured here 36-51%
    (docs/benchmarks.md). The neighbours are still the checked pixels only.
    ``periodic_guard`` (with ``lr_scale`` ``full``): also match the right view at half size, and
    where the two round trips disagree keep the full-size pass only where the texture does not
    repeat within the range (periodic.py: on a repeating pattern both full-size matches can take
    the same wrong repeat), for about an eighth of SGBM more.
    """
    _check_pair(left, right)
    if fill_filter not in ("none", "guided", "wls"):
        raise ValueError(f"fill_filter: expected none, guided or wls, got {fill_filter!r}")
    if lr_scale not in LR_SCALES:
        raise ValueError(f"lr_scale: expected one of {', '.join(LR_SCALES)}, got {lr_scale!r}")
    fx, fy = LR_SCALES[lr_scale]
    if left.shape[1] // fx < 128 or left.shape[0] // fy < 64:  # too small to shrink: SGBM needs room to match
        fx = fy = 1
    grey = to_grey(left)
    if not params.use_colour:  # convert once, not in every matcher call
        left, right = grey, to_grey(right)
    disp = compute_disparity(left, right, params)
    lr_error = None
    tolerance = max_lr_diff + 0.5 * (fx - 1)
    raw = disp.copy() if lr_check and fill and keep_rejected else None
    if lr_check:
        lr_error = lr_consistency(disp, compute_right_disparity_scaled(left, right, params, fx, fy))
        if periodic_guard and (fx, fy) == (1, 1) and left.shape[1] // 2 >= 128 and left.shape[0] // 2 >= 64:
            lr_error = _guard_periodic(lr_error, disp, left, right, params, tolerance)
        disp[lr_error > tolerance] = -1.0
    texture = texture_confidence(grey, params.block_size)
    conf = confidence_map(disp, grey, lr_error, tolerance, params.block_size, texture=texture)
    matched = disp > 0
    filled = np.zeros_like(matched)
    if fill and fill_filter == "wls":
        from sensorium.stages.depth.edge_filter import wls_filter

        smooth, _ = wls_filter(grey, disp, conf)
        filled = ~matched & (smooth > 0)
        disp = np.where(matched, disp, smooth).astype(np.float32)
    elif fill:
        disp, filled = fill_holes(disp, grey, smooth=fill_filter == "guided")
    if raw is not None:  # holes the fill answered where SGBM had a value: that value, not a neighbour's
        # only where the texture says SGBM measured: on a bare wall its value comes from the
        # smoothness prior, and a neighbour's is the better guess (the chessboard's wall, #18)
        rejected = filled & (raw > 0) & (texture >= 1.0)
        disp[rejected] = raw[rejected]
    if fill:
        filled &= disp > 0
        conf[filled] = FILLED_CONFIDENCE * texture[filled]
    return StereoMaps(disp, conf, matched, filled)
