"""TSDF fusion of each source's depth frames into one mesh per source."""

from __future__ import annotations

import logging
import os
from typing import Any

import cv2
import numpy as np

from sensorium.pipeline.io.sinks.annotate import primary_depth
from sensorium.pipeline.io.sinks.base import BaseSink, safe_name
from sensorium.stages.depth.fusion import TSDFFusion
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth

log = logging.getLogger(__name__)


class TsdfSink(BaseSink):
    """Fuses each source's frames into a TSDF volume; ``out_dir/<src>_mesh.ply`` on close.

    Every frame with a Depth result and an image is fused (``TSDFFusion``): its depth map and
    K, the image registered to the depth map (rectified for stereo, resized when sizes differ),
    and ``frame.pose`` when the source knows it, turned into the depth camera's pose (else
    RGB-D odometry). Mesh vertices are metres in the world frame of the poses
    (of the first frame when they are estimated). Options go to ``TSDFFusion``; sdf_trunc
    defaults to 4 voxels; min_observations drops surface seen by fewer frames.
    """

    name = "tsdf"

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        voxel_length: float = 0.01,
        *,
        sdf_trunc: float | None = None,
        depth_trunc: float = 3.0,
        color: bool = True,
        min_observations: int = 1,
        device: str = "CPU:0",
    ) -> None:
        super().__init__(out_dir)
        self._fusion_args = dict(
            voxel_length=voxel_length,
            sdf_trunc=4 * voxel_length if sdf_trunc is None else sdf_trunc,
            depth_trunc=depth_trunc,
            color=color,
            device=device,
        )
        if min_observations < 1:
            raise ValueError(f"TsdfSink: expected min_observations >= 1, got {min_observations}")
        self.min_observations = min_observations
        self._fusions: dict[str, TSDFFusion] = {}
        TSDFFusion(**self._fusion_args)  # validate the options now, not on the first frame

    def _write(self, frame: Frame) -> str | None:
        found = primary_depth(frame)
        if found is None:
            return "no depth result"
        if frame.image is None:
            return "no image"
        depth = found[1]
        color, pose = _in_depth_camera(frame, depth)
        fusion = self._fusions.get(frame.source_id)
        if fusion is None:
            fusion = self._fusions[frame.source_id] = TSDFFusion(**self._fusion_args)
        if fusion.integrate(color, depth.depth, depth.K, pose) is None:
            return f"not fused: {fusion.last_skip_reason}"
        return None

    def _close(self) -> dict[str, Any]:
        import open3d as o3d

        meshes: dict[str, Any] = {}
        for src, fusion in self._fusions.items():
            entry: dict[str, Any] = {**fusion.stats(), "path": None}
            meshes[src] = entry
            try:  # one source's failure must not cost the others their mesh
                mesh = fusion.extract_mesh(min_observations=self.min_observations)
                entry.update(vertices=len(mesh.vertices), triangles=len(mesh.triangles))
                if len(mesh.triangles) == 0:
                    log.warning("tsdf sink: no surface fused for source %r; no mesh written", src)
                    continue
                path = self.out_dir / f"{safe_name(src)}_mesh.ply"
                if not o3d.io.write_triangle_mesh(str(path), mesh, write_ascii=False):
                    raise RuntimeError(f"Open3D could not write {path}")
                entry["path"] = str(path)
            except Exception as exc:  # noqa: BLE001 - reported in the summary
                log.exception("tsdf sink: mesh of source %r failed", src)
                entry["error"] = f"{type(exc).__name__}: {exc}"
        self._fusions.clear()  # the volumes can be large; free them
        return {"meshes": meshes}


def _in_depth_camera(frame: Frame, depth: Depth) -> tuple[np.ndarray, np.ndarray | None]:
    """The frame's colour image and pose expressed in the camera its depth map is in.

    Stereo depth lives in the *rectified* left camera, which ``depth.rectification`` relates
    to the source's left camera (None: the maps are in the source's camera already). The
    source's pose is the original left camera's, so the depth camera's pose is
    pose @ ``rectification.to_source``, and the colour is rectified the same way. RGB-D depth
    is in the colour camera already; only a size difference is resized away.
    """
    color = frame.image
    h, w = depth.depth.shape
    rect = depth.rectification
    if rect is not None and color.shape[:2] == (h, w):
        color = rect.rectify_image(color)
    if color.shape[:2] != (h, w):
        color = cv2.resize(color, (w, h), interpolation=cv2.INTER_AREA)
    pose = frame.pose
    if pose is not None and rect is not None:
        pose = pose @ rect.to_source
    return color, pose
