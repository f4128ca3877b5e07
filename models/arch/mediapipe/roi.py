"""Rotated square regions of interest: how MediaPipe feeds its landmark models on video.

Reimplemented from what MediaPipe's graphs configure (``DetectionsToRectsCalculator`` with a
rotation vector between two keypoints, ``RectTransformationCalculator`` with ``square_long``
and a scale, ``ImageToTensorCalculator`` cropping the rotated rect, ``LandmarkProjection``
mapping landmarks back): a region is a centre, a side and an angle in image pixels. The face
mesh's first region comes from a detection (box, eye keypoints); on the next frame it comes from
the previous frame's landmarks (their bounding box, the outer eye corners), so the detector need
not run while the face is tracked. Here the angle is that of the vector from the start keypoint
to the end one in image coordinates (y down); MediaPipe's ``target_angle`` 0 means the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Roi:
    """A square region: centre (cx, cy) and side in image pixels, angle in radians (the crop's
    x axis is the image direction (cos angle, sin angle), y down)."""

    cx: float
    cy: float
    side: float
    angle: float

    def __post_init__(self) -> None:
        if not (np.isfinite([self.cx, self.cy, self.side, self.angle]).all() and self.side > 0):
            raise ValueError(f"expected a finite centre and angle and a positive side, got {self}")

    def patch_to_image(self, size: int) -> np.ndarray:
        """(2, 3) affine from a (size, size) crop's pixels to image pixels, both continuous (pixel i spans [i, i + 1),
        the convention of landmark models' outputs)."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        k = self.side / size
        rot = np.array([[c, -s], [s, c]]) * k
        centre = np.array([self.cx, self.cy]) - rot @ np.array([size / 2, size / 2])
        return np.concatenate([rot, centre[:, None]], axis=1)

    def corners(self) -> np.ndarray:
        """(4, 2) image pixels of the crop's corners: top-left, top-right, bottom-right, bottom-left."""
        m = self.patch_to_image(1)
        unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
        return unit @ m[:, :2].T + m[:, 2]


def roi_from_box(box: np.ndarray, start: np.ndarray, end: np.ndarray, *, scale: float = 1.5) -> Roi:
    """The square region around ``box`` (x0, y0, x1, y1) image pixels, its side the box's longer
    side times ``scale``, turned so that ``start`` -> ``end`` (image pixels) points along its x axis."""
    box = np.asarray(box, np.float64)
    if box.shape != (4,) or not (box[2] > box[0] and box[3] > box[1]):
        raise ValueError(f"expected a box (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {box.tolist()}")
    dx, dy = np.asarray(end, np.float64) - np.asarray(start, np.float64)
    side = max(box[2] - box[0], box[3] - box[1]) * scale
    return Roi(float((box[0] + box[2]) / 2), float((box[1] + box[3]) / 2), float(side), float(np.arctan2(dy, dx)))


def roi_from_alignment(centre: np.ndarray, scale_point: np.ndarray, *, scale: float, target_angle: float) -> Roi:
    """The region MediaPipe's pose graph makes from two alignment points (image pixels): centred on
    ``centre``, side ``2 * |scale_point - centre| * scale``, turned so that ``centre -> scale_point``
    lies at ``target_angle`` from the crop's x axis (pi/2 for the pose: hips -> head points up the crop)."""
    c, p = np.asarray(centre, np.float64), np.asarray(scale_point, np.float64)
    dx, dy = p - c
    return Roi(float(c[0]), float(c[1]), float(2 * np.hypot(dx, dy) * scale), float(np.arctan2(dy, dx) + target_angle))


def roi_from_landmarks(points: np.ndarray, start: int, end: int, *, scale: float = 1.5) -> Roi:
    """The next frame's region from this frame's landmarks (N, 2+) image pixels: their bounding
    box, turned along ``points[start] -> points[end]``."""
    xy = np.asarray(points, np.float64)[:, :2]
    box = np.concatenate([xy.min(0), xy.max(0)])
    return roi_from_box(box, xy[start], xy[end], scale=scale)


def crop(image: np.ndarray, roi: Roi, size: int) -> tuple[np.ndarray, np.ndarray]:
    """((size, size, C) crop of ``image`` under ``roi``, bilinear, borders replicated as MediaPipe's
    default, and the (2, 3) patch -> image affine to map landmarks back). Regions over the
    image border are fine: the outside is the replicated edge."""
    if image.ndim != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected (H, W, C) uint8 image, got {image.shape} {image.dtype}")
    to_image = roi.patch_to_image(size)  # continuous coordinates: pixel i spans [i, i + 1)
    to_index = to_image.copy()  # cv2 samples at pixel indices (centres at integers): shift by half a pixel both sides
    to_index[:, 2] += to_image[:, :2] @ np.array([0.5, 0.5]) - 0.5
    patch = cv2.warpAffine(image, to_index, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return patch, to_image


def project(points: np.ndarray, to_image: np.ndarray, size: int) -> np.ndarray:
    """(N, 2) or (N, 3) crop pixels -> image pixels; z (depth, in the crop's pixel units like x)
    is scaled by the crop's zoom so it stays in the units of x and y."""
    pts = np.asarray(points, np.float32)
    xy = pts[:, :2] @ to_image[:, :2].T.astype(np.float32) + to_image[:, 2].astype(np.float32)
    if pts.shape[1] == 2:
        return xy
    zoom = float(np.hypot(*to_image[:, 0]))
    return np.concatenate([xy, pts[:, 2:3] * zoom], axis=1)
