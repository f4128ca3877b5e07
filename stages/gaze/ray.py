"""The 3-D gaze ray and what it hits: who looks at whom, at what.

With a depth map registered to the image, a face's eye origin gets metric coordinates (the
median depth in a small window around the point between the irises, back-projected with the
depth camera's intrinsics). The ray from there along the gaze direction is marched through the
depth map: the first sample that reaches the surface seen at its pixel is what the face looks at.
That point is named by the face (another one) or detection whose 2-D box holds its pixel, or
whose lifted 3-D box (``Detections.xyz`` +- extent / 2) holds the point itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorium.stages.results import Depth, Detections


@dataclass(frozen=True)
class RayConfig:
    """max_distance: metres the ray is followed. step: metres between samples. start: metres skipped
    from the origin (the gazer's own face). surface_tolerance: a sample within this of the depth
    surface (or behind it) hits it. window: half-size, pixels, of the origin's depth window."""

    max_distance: float = 6.0
    step: float = 0.02
    start: float = 0.12
    surface_tolerance: float = 0.05
    window: int = 3

    def __post_init__(self) -> None:
        if not (0 < self.step < self.max_distance and 0 <= self.start < self.max_distance and self.window >= 0):
            raise ValueError(f"ray: expected 0 < step < max_distance, 0 <= start < max_distance, window >= 0, got {self}")


def origin_3d(depth: Depth, pixel: np.ndarray, window: int) -> np.ndarray:
    """(3,) float64 metres, depth camera frame, of an image pixel (x, y); NaN where no depth is near."""
    h, w = depth.depth.shape
    u, v = int(np.floor(pixel[0])), int(np.floor(pixel[1]))
    patch = depth.depth[max(v - window, 0):max(min(v + window + 1, h), 0), max(u - window, 0):max(min(u + window + 1, w), 0)]
    z = patch[patch > 0]
    if not z.size:
        return np.full(3, np.nan)
    zm = float(np.median(z))
    K = depth.K
    return np.array([(pixel[0] - K[0, 2]) * zm / K[0, 0], (pixel[1] - K[1, 2]) * zm / K[1, 1], zm])


def march(depth: Depth, origin: np.ndarray, direction: np.ndarray, config: RayConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """First surface point the ray meets: ((3,) metres, (2,) image pixel), or None (leaves the view or the range)."""
    if not np.isfinite(origin).all():
        return None
    h, w = depth.depth.shape
    K = depth.K
    t = np.arange(config.start, config.max_distance, config.step)
    pts = origin[None] + t[:, None] * direction[None]
    ahead = pts[:, 2] > 0.05
    z = np.where(ahead, pts[:, 2], np.nan)
    u = K[0, 0] * pts[:, 0] / z + K[0, 2]
    v = K[1, 1] * pts[:, 1] / z + K[1, 2]
    inside = ahead & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    for k in np.flatnonzero(inside):
        d = depth.depth[int(v[k]), int(u[k])]
        if d > 0 and pts[k, 2] >= d - config.surface_tolerance:
            return pts[k], np.array([u[k], v[k]])
    return None


def _in_boxes(boxes: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    return (boxes[:, 0] <= pixel[0]) & (pixel[0] <= boxes[:, 2]) & (boxes[:, 1] <= pixel[1]) & (pixel[1] <= boxes[:, 3])


def _smallest(boxes: np.ndarray, mask: np.ndarray) -> int:
    if not mask.any():
        return -1
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return int(np.flatnonzero(mask)[np.argmin(area[mask])])


def hit_face(face_boxes: np.ndarray, me: int, pixel: np.ndarray) -> int:
    """Index of the smallest other face box holding the hit pixel, -1 for none."""
    mask = _in_boxes(face_boxes, pixel)
    mask[me] = False
    return _smallest(face_boxes, mask)


def hit_detection(dets: Detections | None, point: np.ndarray, pixel: np.ndarray) -> int:
    """Index of the detection the hit belongs to (3-D box when lifted, else the smallest 2-D box), -1 for none."""
    if dets is None or not len(dets):
        return -1
    if dets.xyz is not None and dets.extent is not None:
        lifted = np.isfinite(dets.xyz).all(1)
        inside3d = lifted & (np.abs(point[None] - dets.xyz) <= dets.extent / 2 + 0.05).all(1)
        if inside3d.any():
            return _smallest(dets.boxes, inside3d)
        return _smallest(dets.boxes, ~lifted & _in_boxes(dets.boxes, pixel))
    return _smallest(dets.boxes, _in_boxes(dets.boxes, pixel))
