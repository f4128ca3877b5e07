"""Stereo calibration from chessboard views (pure compute: images in, calibration out).

Each camera is calibrated on its own first (``cv2.calibrateCamera``), then the pair with the
intrinsics fixed (``cv2.stereoCalibrateExtended`` + ``CALIB_FIX_INTRINSIC``). Estimating all
~30 parameters jointly from a dozen views lets errors in one camera's distortion leak into R
and T; two smaller, well-conditioned problems give a steadier baseline. Reading the image
files and writing the result (``pipeline/io/calibration.py``) happen elsewhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from sensorium.stages.camera import StereoCalibration

log = logging.getLogger(__name__)

_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
_CALIB_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-6)


@dataclass(frozen=True)
class CalibrationReport:
    """How a calibration went.

    rms: stereo RMS reprojection error (pixels, both cameras); rms_left/rms_right: each
    camera's own calibration RMS; per_pair: pair index → (left, right) RMS error in pixels for
    the pairs used; used: indices of the pairs used; skipped: index → why it was left out;
    image_size: (width, height).
    """

    rms: float
    rms_left: float
    rms_right: float
    per_pair: dict[int, tuple[float, float]]
    used: tuple[int, ...]
    skipped: dict[int, str]
    image_size: tuple[int, int]
    notes: tuple[str, ...] = field(default=())


def _grey(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise ValueError(f"{what}: expected (H, W) or (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image.reshape(image.shape[:2])


def board_points(board: tuple[int, int], square_size: float) -> np.ndarray:
    """The chessboard's inner corners in its own plane: (cols * rows, 3) float32 metres, row-major."""
    cols, rows = board
    grid = np.zeros((rows * cols, 3), np.float32)
    grid[:, :2] = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * square_size
    return grid


def find_corners(image: np.ndarray, board: tuple[int, int]) -> np.ndarray | None:
    """Chessboard inner corners refined to sub-pixel: (cols * rows, 1, 2) float32 pixels, or None.

    image: (H, W, 3) uint8 RGB or (H, W) uint8; board: (cols, rows) inner corners.
    """
    grey = _grey(image, "chessboard image")
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCorners(grey, tuple(board), flags=flags)
    if not found:
        return None
    return cv2.cornerSubPix(grey, corners, (11, 11), (-1, -1), _SUBPIX_CRITERIA)


def _same_order(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``right`` corners in the same order as ``left``'s.

    A chessboard with an even number of squares one way is symmetric under a half turn, so the
    detector may start from opposite corners in the two views; matching first-to-first would
    then pair each corner with its mirror image.
    """
    a = left[-1, 0] - left[0, 0]
    b = right[-1, 0] - right[0, 0]
    return right[::-1].copy() if float(a @ b) < 0 else right


def calibrate_stereo(
    lefts: Sequence[np.ndarray],
    rights: Sequence[np.ndarray],
    board: tuple[int, int] = (9, 6),
    square_size: float = 0.025,
    *,
    min_pairs: int = 3,
    outlier_factor: float | None = 3.0,
) -> tuple[StereoCalibration, CalibrationReport]:
    """Calibrate a stereo pair from chessboard views.

    lefts, rights: the same number of (H, W, 3) uint8 RGB or (H, W) uint8 images, pair i
    showing the board at once in both cameras, all of one size. board: (cols, rows) inner
    corners; square_size: metres (T comes out in the same unit). Pairs where either view
    has no full board are skipped (the report says which and why); fewer than ``min_pairs``
    usable pairs raise ValueError. With ``outlier_factor``, pairs whose reprojection error
    exceeds both 1 px and ``outlier_factor`` times the median (a blurred or mis-detected board,
    unsynchronised capture) are dropped and the calibration is run again without them.
    """
    if len(lefts) != len(rights):
        raise ValueError(f"expected as many left as right images, got {len(lefts)} and {len(rights)}")
    if len(board) != 2 or min(board) < 2:
        raise ValueError(f"board: expected (cols, rows) inner corners, both >= 2, got {board}")
    if not square_size > 0:
        raise ValueError(f"square_size: expected > 0 metres, got {square_size}")
    size: tuple[int, int] | None = None
    obj, pts_l, pts_r, used = [], [], [], []
    skipped: dict[int, str] = {}
    grid = board_points(board, square_size)
    for i, (left, right) in enumerate(zip(lefts, rights)):
        gl, gr = _grey(left, f"left image {i}"), _grey(right, f"right image {i}")
        if gl.shape != gr.shape:
            skipped[i] = f"left {gl.shape} and right {gr.shape} differ in size"
            continue
        if size is None:
            size = (gl.shape[1], gl.shape[0])
        elif (gl.shape[1], gl.shape[0]) != size:
            skipped[i] = f"size {gl.shape[1]}x{gl.shape[0]} differs from the first pair's {size[0]}x{size[1]}"
            continue
        cl, cr = find_corners(gl, board), find_corners(gr, board)
        if cl is None or cr is None:
            skipped[i] = "no full chessboard in the " + " and ".join(n for n, c in (("left", cl), ("right", cr)) if c is None) + " image"
            continue
        obj.append(grid)
        pts_l.append(cl)
        pts_r.append(_same_order(cl, cr))
        used.append(i)
    for i, why in skipped.items():
        log.info("calibration: pair %d skipped: %s", i, why)
    if len(used) < min_pairs:
        raise ValueError(f"calibration needs at least {min_pairs} pairs with the {board[0]}x{board[1]} board in both views, got {len(used)} of {len(lefts)}")
    assert size is not None
    result = _calibrate(obj, pts_l, pts_r, size)
    per_pair = {i: (float(e[0]), float(e[1])) for i, e in zip(used, result[-1])}
    if outlier_factor is not None:
        worst = {i: max(e) for i, e in per_pair.items()}
        limit = max(1.0, outlier_factor * float(np.median(list(worst.values()))))
        keep = [k for k, i in enumerate(used) if worst[i] <= limit]
        if min_pairs <= len(keep) < len(used):
            for i in used:
                if worst[i] > limit:
                    skipped[i] = f"reprojection error {worst[i]:.2f} px > {limit:.2f} px (outlier)"
                    log.info("calibration: pair %d dropped: %s", i, skipped[i])
            obj, pts_l, pts_r, used = ([x[k] for k in keep] for x in (obj, pts_l, pts_r, used))
            result = _calibrate(obj, pts_l, pts_r, size)
            per_pair = {i: (float(e[0]), float(e[1])) for i, e in zip(used, result[-1])}
    rms, rms_l, rms_r, K1, D1, K2, D2, R, T, _ = result
    calib = StereoCalibration(K1, D1.reshape(-1), K2, D2.reshape(-1), R, T.reshape(-1), size[0], size[1])
    notes = []
    if abs(calib.T[0]) < max(abs(calib.T[1]), abs(calib.T[2])):
        notes.append("baseline is not mostly horizontal: check that the left and right images are not swapped or rotated")
    elif calib.T[0] > 0:
        notes.append("T[0] > 0: the 'right' camera is left of the 'left' one; the images look swapped")
    report = CalibrationReport(float(rms), float(rms_l), float(rms_r), per_pair, tuple(used), dict(sorted(skipped.items())), size, tuple(notes))
    log.info("stereo calibration: rms %.3f px (left %.3f, right %.3f), baseline %.4f, %d pairs used, %d skipped", rms, rms_l, rms_r, calib.baseline, len(used), len(skipped))
    return calib, report


def _calibrate(obj: list, pts_l: list, pts_r: list, size: tuple[int, int]) -> tuple:
    """Each camera alone, then the pair with intrinsics fixed; per-view errors as (N, 2)."""
    rms_l, K1, D1, _, _ = cv2.calibrateCamera(obj, pts_l, size, None, None, criteria=_CALIB_CRITERIA)
    rms_r, K2, D2, _, _ = cv2.calibrateCamera(obj, pts_r, size, None, None, criteria=_CALIB_CRITERIA)
    rms, K1, D1, K2, D2, R, T, _, _, _, _, per_view = cv2.stereoCalibrateExtended(
        obj, pts_l, pts_r, K1, D1, K2, D2, size, np.eye(3), np.zeros((3, 1)),
        flags=cv2.CALIB_FIX_INTRINSIC, criteria=_CALIB_CRITERIA,
    )
    return rms, rms_l, rms_r, K1, D1, K2, D2, R, T, np.asarray(per_view).reshape(-1, 2)
