"""Metric 3-D keypoints in the camera frame from a depth result on the same frame.

A keypoint sits on the body's silhouette as often as inside it (a wrist against the wall behind),
so its depth is the median of the valid samples in a small window around it, and of those only
the nearest cluster (within ``near_band`` of the window's nearest percentile): the body is in
front of what is behind it. Keypoints with no valid depth nearby, or outside the depth map, get
NaN. Stereo depth maps live in the rectified left camera: keypoints (source pixels) are carried
there through the depth's ``rectification`` first, and the 3-D points are in that camera's frame
(X right, Y down, Z forward, metres), as the detect stage's 3-D boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sensorium.stages.results import Depth


@dataclass(frozen=True)
class KeypointLift:
    """radius: half-width in depth pixels of the window around a keypoint; min_samples: fewer valid
    samples -> NaN; min_confidence: depth samples below it are ignored; near_band: samples farther
    than this fraction beyond the window's 10th-percentile depth are background."""

    radius: int = 3
    min_samples: int = 3
    min_confidence: float = 0.2
    near_band: float = 0.15


def to_depth_pixels(xy: np.ndarray, depth: Depth, image_shape: tuple[int, int]) -> np.ndarray:
    """(M, 2) image pixels -> the depth map's pixels (rectified for stereo maps, scaled when sizes differ)."""
    h, w = image_shape
    dh, dw = depth.depth.shape
    pts = np.asarray(xy, np.float64).reshape(-1, 2) * np.array([dw / w, dh / h])
    rect = depth.rectification
    if rect is not None and len(pts):
        pts = cv2.undistortPoints(pts.reshape(-1, 1, 2), rect.K, rect.D, R=rect.R, P=rect.P).reshape(-1, 2)
    return pts


def lift_keypoints(xy: np.ndarray, depth: Depth, image_shape: tuple[int, int], config: KeypointLift = KeypointLift()) -> np.ndarray:
    """xy (N, K, 2) image pixels -> (N, K, 3) float32 metres in the depth camera's frame, NaN where unknown."""
    fx, fy, cx, cy = depth.K[0, 0], depth.K[1, 1], depth.K[0, 2], depth.K[1, 2]
    if not (np.isfinite(fx) and np.isfinite(fy)):
        raise ValueError("depth map has no focal length (uncalibrated stereo): cannot lift keypoints to 3D")
    n, k = xy.shape[:2]
    pts = to_depth_pixels(xy.reshape(-1, 2), depth, image_shape)
    out = np.full((len(pts), 3), np.nan, np.float32)
    dh, dw = depth.depth.shape
    r = config.radius
    for i, (u, v) in enumerate(pts):
        if not (np.isfinite(u) and np.isfinite(v)) or not (0 <= u < dw and 0 <= v < dh):
            continue
        iu, iv = int(u), int(v)
        zs = depth.depth[max(iv - r, 0):iv + r + 1, max(iu - r, 0):iu + r + 1]
        conf = depth.confidence[max(iv - r, 0):iv + r + 1, max(iu - r, 0):iu + r + 1]
        z = zs[(zs > 0) & (conf >= config.min_confidence)]
        if z.size < config.min_samples:
            continue
        near = z[z <= np.percentile(z, 10) * (1 + config.near_band)]
        zm = float(np.median(near))
        out[i] = ((u - cx) * zm / fx, (v - cy) * zm / fy, zm)
    return out.reshape(n, k, 3)
