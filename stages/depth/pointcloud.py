"""Depth map (+ colour) → down-sampled point cloud, through Open3D.

Pure compute: numpy in, numpy out (the arrays fill ``Depth.points``/``Depth.colors``); a sink
elsewhere writes PLY, and TSDF fusion lives in ``stages/depth/fusion.py``. Open3D is imported
lazily: it costs ~0.5 s and is only needed when a point cloud is asked for.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

#: colour given to points when no image comes with the depth
DEFAULT_GREY = 200


def _check(depth: np.ndarray, K: np.ndarray, rgb: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    depth = np.asarray(depth)
    if depth.ndim != 2 or depth.dtype.kind != "f":
        raise ValueError(f"depth: expected (H, W) float metres, got {depth.shape} {depth.dtype}")
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"K: expected (3, 3) intrinsics with positive focal lengths, got {K.tolist()}")
    if rgb is not None:
        rgb = np.asarray(rgb)
        if rgb.shape != (*depth.shape, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"rgb: expected {(*depth.shape, 3)} uint8 to match depth, got {rgb.shape} {rgb.dtype}")
    return np.ascontiguousarray(depth, dtype=np.float32), K


def depth_to_points(
    depth: np.ndarray,
    K: np.ndarray,
    rgb: np.ndarray | None = None,
    *,
    voxel_size: float = 0.02,
    max_depth: float = 1e3,
) -> tuple[np.ndarray, np.ndarray]:
    """Back-project a depth map and voxel-down-sample it.

    depth: (H, W) float metres, 0 (or non-finite) where unknown; K: (3, 3) intrinsics of the
    camera the depth is in; rgb: optional (H, W, 3) uint8 RGB registered to ``depth``.
    voxel_size: metres (0 disables down-sampling; each voxel keeps the mean of its points and
    colours). max_depth: points farther than this are dropped.

    Returns ``(points, colors)``: (P, 3) float32 metres in the camera frame (X right, Y down,
    Z forward) and (P, 3) uint8 RGB (``DEFAULT_GREY`` without ``rgb``).
    """
    import open3d as o3d

    depth, K = _check(depth, K, rgb)
    if voxel_size < 0:
        raise ValueError(f"voxel_size: expected >= 0 metres, got {voxel_size}")
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32)
    h, w = depth.shape
    intrinsic = o3d.camera.PinholeCameraIntrinsic(w, h, K[0, 0], K[1, 1], K[0, 2], K[1, 2])
    if rgb is not None:
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(np.ascontiguousarray(rgb)), o3d.geometry.Image(depth),
            depth_scale=1.0, depth_trunc=float(max_depth), convert_rgb_to_intensity=False,
        )
        cloud = o3d.geometry.PointCloud.create_from_rgbd_image(rgbd, intrinsic)
    else:
        cloud = o3d.geometry.PointCloud.create_from_depth_image(
            o3d.geometry.Image(depth), intrinsic, depth_scale=1.0, depth_trunc=float(max_depth),
        )
    if voxel_size > 0 and len(cloud.points):
        cloud = cloud.voxel_down_sample(voxel_size)
    points = np.asarray(cloud.points, dtype=np.float32).reshape(-1, 3)
    if rgb is not None:
        colors = np.clip(np.rint(np.asarray(cloud.colors) * 255.0), 0, 255).astype(np.uint8).reshape(-1, 3)
    else:
        colors = np.full(points.shape, DEFAULT_GREY, dtype=np.uint8)
    log.debug("point cloud: %d points (voxel %.3f m) from %dx%d depth", points.shape[0], voxel_size, w, h)
    return points, colors
