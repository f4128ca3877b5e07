"""Point clouds per frame as binary .ply files (Open3D, imported when the first cloud is written)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from sensorium.pipeline.io.sinks.annotate import primary_depth
from sensorium.pipeline.io.sinks.base import BaseSink, frame_stem
from sensorium.stages.frame import Frame


class PlySink(BaseSink):
    """``out_dir/clouds/<src>_<seq:06d>.ply`` (binary) from the Depth result's point cloud.

    Points are metres in the camera frame of the depth map, colours RGB; frames whose Depth
    has no ``points`` (the depth stage was not asked for them) are skipped.
    """

    name = "ply"
    subdir = "clouds"

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        super().__init__(out_dir)
        self.dir = self.out_dir / self.subdir
        self.dir.mkdir(parents=True, exist_ok=True)

    def _write(self, frame: Frame) -> str | None:
        import open3d as o3d

        found = primary_depth(frame)
        if found is None:
            return "no depth result"
        depth = found[1]
        if depth.points is None:
            return "no point cloud"
        if depth.points.shape[0] == 0:
            return "empty point cloud"
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(depth.points.astype(np.float64)))
        cloud.colors = o3d.utility.Vector3dVector(depth.colors.astype(np.float64) / 255.0)
        path = self.dir / f"{frame_stem(frame)}.ply"
        if not o3d.io.write_point_cloud(str(path), cloud, write_ascii=False):
            raise RuntimeError(f"Open3D could not write {path}")
        return None

    def _close(self) -> dict[str, Any]:
        return {"dir": str(self.dir)}
