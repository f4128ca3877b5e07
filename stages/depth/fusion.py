"""TSDF fusion of RGB-D frames into one surface, with RGB-D odometry when poses are unknown.

Pure compute around Open3D (no I/O): the caller feeds frames in capture order and asks for a
mesh or point cloud at the end.

Frames and units
----------------
* Depth is metres, (H, W) float32, 0 (or non-finite) where unknown; colour is (H, W, 3) uint8
  RGB registered to the depth map; ``K`` is the (3, 3) pinhole matrix of that camera.
* A pose is the (4, 4) float64 **camera-to-world** transform (OpenCV camera axes: X right,
  Y down, Z forward), the convention of ``Frame.pose`` and of Redwood/Open3D ``trajectory.log``.
  Open3D's integration wants the **extrinsic = world-to-camera = inverse(pose)**; the
  inversion happens here, callers always pass camera-to-world.
* Without a pose, the frame's pose is estimated by RGB-D odometry (photometric + geometric
  "hybrid" term) against the previously integrated frame and chained onto that frame's pose.
  The first pose-less frame of a sequence defines the world (identity pose) unless an earlier
  frame brought a known pose. A known pose always wins, so mixing known and estimated poses
  is only meaningful when they share one world frame.

Why Open3D's ``VoxelBlockGrid`` rather than the legacy ``ScalableTSDFVolume``: in the pinned
Open3D 0.20, ``PointCloud.create_from_depth_image`` divides *float* depth by ``depth_scale``,
and ``ScalableTSDFVolume.integrate`` calls it with a hard-coded 1000 to find the volume units a
frame touches; it then allocates units a thousand times too close to the camera and integrates
nothing (every mesh comes out empty). ``VoxelBlockGrid`` is Open3D's current hash-based
(equally unbounded) TSDF and runs on CPU or CUDA.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # open3d takes ~1 s to import; load it only when fusion is used
    import open3d as o3d

log = logging.getLogger(__name__)

#: reasons a frame is not integrated (keys of ``TSDFFusion.frames_skipped``)
SKIP_NO_DEPTH = "no_valid_depth"
SKIP_ODOMETRY = "odometry_failed"
SKIP_LOW_OVERLAP = "odometry_low_overlap"
SKIP_CAMERA_CHANGED = "camera_changed_without_pose"


def _o3d() -> Any:
    import open3d

    return open3d


class TSDFFusion:
    """Fuse RGB-D frames into a truncated signed distance volume (Open3D ``VoxelBlockGrid``).

    voxel_length: voxel edge in metres. sdf_trunc: truncation distance in metres (typically
    3-5 voxels; the band around the surface each depth sample updates). depth_trunc:
    depth beyond this many metres is ignored (far sensor depth is noisy). color: fuse vertex
    colours. device: Open3D device string, ``"CPU:0"`` or ``"CUDA:0"``. block_count: initial
    hash-map capacity in 16^3-voxel blocks (it grows when needed).
    odometry_depth_diff_max: metres; depth differences above it are outliers for odometry.
    odometry_min_overlap: fraction of the frame's valid depth pixels that must find a
    correspondence in the previous frame. Open3D reports success on textureless or unrelated
    images too (a blank wall "moves" by metres), so a low-overlap estimate is rejected and the
    frame skipped rather than smearing the volume.

    Not thread-safe; one instance per camera stream.
    """

    def __init__(
        self,
        voxel_length: float = 0.01,
        sdf_trunc: float = 0.04,
        depth_trunc: float = 3.0,
        color: bool = True,
        *,
        device: str = "CPU:0",
        block_count: int = 10_000,
        odometry_depth_diff_max: float = 0.03,
        odometry_min_overlap: float = 0.3,
    ) -> None:
        if not voxel_length > 0:
            raise ValueError(f"TSDFFusion: expected voxel_length > 0 metres, got {voxel_length}")
        if not sdf_trunc >= voxel_length:
            raise ValueError(f"TSDFFusion: expected sdf_trunc >= voxel_length ({voxel_length} m), got {sdf_trunc}")
        if not depth_trunc > 0:
            raise ValueError(f"TSDFFusion: expected depth_trunc > 0 metres, got {depth_trunc}")
        if block_count < 1:
            raise ValueError(f"TSDFFusion: expected block_count >= 1, got {block_count}")
        if not odometry_depth_diff_max > 0:
            raise ValueError(f"TSDFFusion: expected odometry_depth_diff_max > 0 metres, got {odometry_depth_diff_max}")
        if not 0 <= odometry_min_overlap <= 1:
            raise ValueError(f"TSDFFusion: expected odometry_min_overlap in [0, 1], got {odometry_min_overlap}")
        self.voxel_length = float(voxel_length)
        self.sdf_trunc = float(sdf_trunc)
        self.depth_trunc = float(depth_trunc)
        self.color = bool(color)
        self.device = device
        self.block_count = int(block_count)
        self.odometry_depth_diff_max = float(odometry_depth_diff_max)
        self.odometry_min_overlap = float(odometry_min_overlap)
        self._grid: Any = None
        self.reset()

    # --- state ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every integrated frame, the odometry reference and the counters."""
        self._grid = None  # allocated on the first integrated frame
        self.frames_integrated = 0
        self.frames_skipped: Counter[str] = Counter()
        self.last_skip_reason: str | None = None
        #: camera-to-world (4, 4) float64 pose of every integrated frame, in order
        self.poses: list[np.ndarray] = []
        self.poses_estimated = 0
        # odometry reference: the last integrated frame (arrays + its pose), RGB-D built lazily
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._prev_rgbd: Any = None

    def stats(self) -> dict[str, Any]:
        """JSON-safe counters: frames integrated, skipped by reason, poses estimated."""
        return {
            "frames_integrated": self.frames_integrated,
            "frames_skipped": dict(self.frames_skipped),
            "poses_estimated": self.poses_estimated,
            "voxel_length": self.voxel_length,
            "sdf_trunc": self.sdf_trunc,
            "depth_trunc": self.depth_trunc,
        }

    # --- integration ----------------------------------------------------------------------
    def integrate(
        self,
        color_rgb: np.ndarray,
        depth_m: np.ndarray,
        K: np.ndarray,
        pose_cam_to_world: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """Fuse one RGB-D frame.

        color_rgb: (H, W, 3) uint8 RGB, registered to the depth map. depth_m: (H, W) float32
        metres, 0 or non-finite where unknown. K: (3, 3) intrinsics of that camera (pixels).
        pose_cam_to_world: (4, 4) camera-to-world pose, or None to estimate it by odometry
        against the previously integrated frame.

        Returns the (4, 4) float64 camera-to-world pose the frame was fused with, or None when
        it was skipped (``last_skip_reason`` and ``frames_skipped`` say why). Raises ValueError
        on malformed input.
        """
        color, depth, K, pose = _check_inputs(color_rgb, depth_m, K, pose_cam_to_world)
        self.last_skip_reason = None
        depth = np.where(np.isfinite(depth) & (depth > 0) & (depth <= self.depth_trunc), depth, 0.0).astype(np.float32)
        if not depth.any():
            return self._skip(SKIP_NO_DEPTH)

        rgbd = None
        if pose is None:
            if self._prev is None:
                pose = np.eye(4)  # first frame of an unposed sequence defines the world
            else:
                prev_color, prev_depth, prev_K, prev_pose = self._prev
                if prev_depth.shape != depth.shape or not np.allclose(prev_K, K):
                    return self._skip(SKIP_CAMERA_CHANGED)
                rgbd = self._odometry_rgbd(color, depth)
                if self._prev_rgbd is None:
                    self._prev_rgbd = self._odometry_rgbd(prev_color, prev_depth)
                relative, reason = self._odometry(rgbd, self._prev_rgbd, K, depth)
                if relative is None:
                    return self._skip(reason)
                pose = prev_pose @ relative
                self.poses_estimated += 1

        self._fuse(color, depth, K, pose)
        self.frames_integrated += 1
        self.poses.append(pose.copy())
        self._prev = (color.copy(), depth, K, pose)  # a copy: callers may reuse their buffers
        self._prev_rgbd = rgbd  # None: built lazily if a later frame needs odometry
        return pose.copy()

    def _skip(self, reason: str) -> None:
        self.frames_skipped[reason] += 1
        self.last_skip_reason = reason
        log.debug("TSDF fusion skipped a frame: %s", reason)
        return None

    def _ensure_grid(self) -> Any:
        if self._grid is None:
            o3d = _o3d()
            o3c = o3d.core
            # Always with a colour attribute: Open3D 0.20 fails to extract a mesh from a
            # colourless grid ("Tensor has shape {0}" in SetVertexColors); colour=False
            # integrates a constant grey and drops the colours on extraction.
            self._grid = o3d.t.geometry.VoxelBlockGrid(
                attr_names=("tsdf", "weight", "color"),
                attr_dtypes=(o3c.float32, o3c.float32, o3c.float32),
                attr_channels=(1, 1, 3),
                voxel_size=self.voxel_length,
                block_resolution=16,
                block_count=self.block_count,
                device=o3c.Device(self.device),
            )
        return self._grid

    def _fuse(self, color: np.ndarray, depth: np.ndarray, K: np.ndarray, pose: np.ndarray) -> None:
        o3d = _o3d()
        o3c = o3d.core
        grid = self._ensure_grid()
        dev = o3c.Device(self.device)
        if self.color:
            rgb = color.astype(np.float32) * (1.0 / 255.0)  # float depth pairs with float colour in [0, 1]
        else:
            rgb = np.full((*depth.shape, 3), 0.5, np.float32)
        depth_t = o3d.t.geometry.Image(o3c.Tensor(depth)).to(dev)
        color_t = o3d.t.geometry.Image(o3c.Tensor(np.ascontiguousarray(rgb))).to(dev)
        K_t = o3c.Tensor(K, o3c.float64)
        extrinsic = o3c.Tensor(np.linalg.inv(pose), o3c.float64)  # world-to-camera
        trunc_mult = self.sdf_trunc / self.voxel_length
        blocks = grid.compute_unique_block_coordinates(depth_t, K_t, extrinsic, 1.0, self.depth_trunc, trunc_mult)
        grid.integrate(blocks, depth_t, color_t, K_t, K_t, extrinsic, 1.0, self.depth_trunc, trunc_mult)

    # --- odometry -------------------------------------------------------------------------
    def _odometry_rgbd(self, color: np.ndarray, depth: np.ndarray) -> Any:
        o3d = _o3d()
        return o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(np.ascontiguousarray(color)),
            o3d.geometry.Image(np.ascontiguousarray(depth)),
            depth_scale=1.0,
            depth_trunc=self.depth_trunc,
            convert_rgb_to_intensity=True,  # odometry's photometric term works on intensity
        )

    def _odometry(self, source: Any, target: Any, K: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray | None, str]:
        """(pose of the source (current) camera in the target (previous) camera's frame, "")
        or (None, skip reason)."""
        o3d = _o3d()
        h, w = depth.shape
        intrinsic = o3d.camera.PinholeCameraIntrinsic(w, h, K[0, 0], K[1, 1], K[0, 2], K[1, 2])
        option = o3d.pipelines.odometry.OdometryOption(
            depth_diff_max=self.odometry_depth_diff_max, depth_min=0.0, depth_max=self.depth_trunc
        )
        # compute_rgbd_odometry returns T with p_target = T @ p_source, i.e. the current
        # camera's pose in the previous camera's frame: exactly the factor to chain on.
        ok, T, info = o3d.pipelines.odometry.compute_rgbd_odometry(
            source, target, intrinsic, np.eye(4), o3d.pipelines.odometry.RGBDOdometryJacobianFromHybridTerm(), option
        )
        T = np.asarray(T, dtype=np.float64)
        if not ok or not np.isfinite(T).all():
            return None, SKIP_ODOMETRY
        # The information matrix sums J^T J over the final correspondences; its translation
        # block is the identity per correspondence, so info[5, 5] counts them.
        overlap = float(np.asarray(info)[5, 5]) / max(1, int(np.count_nonzero(depth)))
        if overlap < self.odometry_min_overlap:
            log.debug("odometry rejected: %.1f%% overlap < %.1f%%", 100 * overlap, 100 * self.odometry_min_overlap)
            return None, SKIP_LOW_OVERLAP
        return T, ""

    # --- extraction -----------------------------------------------------------------------
    def extract_mesh(self, min_observations: int = 1) -> "o3d.geometry.TriangleMesh":
        """Marching-cubes surface in world coordinates (metres), as a legacy Open3D mesh.

        min_observations: voxels updated by fewer frames are ignored (raise it to drop
        surfaces seen once, e.g. sensor noise). Vertex colours are RGB in [0, 1] when
        ``color``; vertex normals are set. Empty mesh when nothing was integrated.
        """
        threshold = _weight_threshold(min_observations)
        o3d = _o3d()
        if self._grid is None:
            return o3d.geometry.TriangleMesh()
        mesh = self._grid.extract_triangle_mesh(weight_threshold=threshold).to_legacy()
        mesh.vertex_colors = _colors(o3d, mesh.vertex_colors, self.color)
        return mesh

    def extract_point_cloud(self, min_observations: int = 1) -> "o3d.geometry.PointCloud":
        """Zero-crossing points of the TSDF in world coordinates (metres), with normals (and
        colours in [0, 1] when ``color``), as a legacy Open3D point cloud."""
        threshold = _weight_threshold(min_observations)
        o3d = _o3d()
        if self._grid is None:
            return o3d.geometry.PointCloud()
        cloud = self._grid.extract_point_cloud(weight_threshold=threshold).to_legacy()
        cloud.colors = _colors(o3d, cloud.colors, self.color)
        return cloud


def _colors(o3d: Any, colors: Any, keep: bool) -> Any:
    """Interpolated voxel colours overshoot [0, 1] slightly (PLY writers then warn); clip them.
    Empty when colour was not fused."""
    if not keep:
        return o3d.utility.Vector3dVector()
    return o3d.utility.Vector3dVector(np.clip(np.asarray(colors), 0.0, 1.0))


def _weight_threshold(min_observations: int) -> float:
    """Open3D keeps voxels with weight *strictly above* the threshold, and each frame adds 1 to
    the voxels it updates; half a frame below the count keeps exactly those seen that often."""
    if min_observations < 1:
        raise ValueError(f"TSDFFusion: expected min_observations >= 1, got {min_observations}")
    return float(min_observations) - 0.5


def _check_inputs(
    color: Any, depth: Any, K: Any, pose: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    color = np.asarray(color)
    if color.dtype != np.uint8 or color.ndim != 3 or color.shape[2] != 3:
        raise ValueError(f"TSDFFusion: expected (H, W, 3) uint8 RGB colour, got {color.shape} {color.dtype}")
    depth = np.asarray(depth)
    if depth.ndim != 2 or depth.dtype.kind != "f":
        raise ValueError(f"TSDFFusion: expected (H, W) float depth in metres, got {depth.shape} {depth.dtype}")
    if depth.shape != color.shape[:2]:
        raise ValueError(f"TSDFFusion: colour {color.shape[:2]} and depth {depth.shape} sizes differ (register them first)")
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"TSDFFusion: expected (3, 3) intrinsics with positive focal lengths, got {K.tolist()}")
    if pose is not None:
        pose = np.asarray(pose, dtype=np.float64)
        if pose.shape != (4, 4) or not np.isfinite(pose).all():
            raise ValueError(f"TSDFFusion: expected a finite (4, 4) camera-to-world pose, got shape {pose.shape}")
        R = pose[:3, :3]
        if not np.allclose(pose[3], [0, 0, 0, 1]) or not np.allclose(R.T @ R, np.eye(3), atol=1e-4):
            raise ValueError(f"TSDFFusion: expected a rigid camera-to-world pose (rotation, translation), got {pose.tolist()}")
    return np.ascontiguousarray(color), depth.astype(np.float32), K, pose
