"""The TSDF sink: a mesh per source, in the depth camera's pose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d

from sensorium.pipeline.io.sinks import safe_name
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth
from tests.pipeline.io.sinks.conftest import SRC, K, load_rgbd


def test_tsdf_mesh_per_source(written):
    out, _, summaries = written
    path = out / f"{safe_name(SRC)}_mesh.ply"
    mesh = o3d.io.read_triangle_mesh(str(path))
    assert len(mesh.triangles) > 10_000 and mesh.has_vertex_colors()
    extent = mesh.get_axis_aligned_bounding_box().get_extent()
    assert np.all(extent > 0.5) and np.all(extent < 4.0), extent
    entry = summaries["tsdf"]["meshes"][SRC]
    assert entry["path"] == str(path) and entry["triangles"] == len(mesh.triangles)
    assert entry["frames_integrated"] == 5
    assert summaries["tsdf"]["skipped"] == {"no depth result": 2}
    assert not (out / "b_mesh.ply").exists()


def test_tsdf_uses_the_rectified_camera_pose_of_stereo_depth(data_dir: Path, tmp_path: Path):
    """Stereo depth is in the rectified left camera (X_rect = R_rect @ X_left); the source's pose
    is the original left camera's. Fusing must undo R_rect, or the surface lands rotated."""
    from sensorium.pipeline.io.sinks import TsdfSink
    from sensorium.stages.depth.fusion import TSDFFusion
    from sensorium.stages.results import Rectification

    a = np.radians(5.0)
    R_rect = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    left_to_rect = np.eye(4)
    left_to_rect[:3, :3] = R_rect
    reference = TSDFFusion(voxel_length=0.02, sdf_trunc=0.08)
    sink = TsdfSink(tmp_path, voxel_length=0.02)
    for seq in range(3):
        image, depth, pose = load_rgbd(data_dir / "rgbd" / "redwood", seq)
        reference.integrate(image, depth, K, pose)  # `pose` is the depth (rectified) camera's
        result = Depth(depth=depth, confidence=np.ones_like(depth), K=K, metadata={"source": "stereo"},
                       rectification=Rectification(R=R_rect, K=K, D=np.zeros(5), P=K))
        sink.write(Frame("stereo", seq, image=image, pose=pose @ left_to_rect, results={"depth": result}))
    entry = sink.close()["meshes"]["stereo"]
    mesh = o3d.io.read_triangle_mesh(entry["path"])
    want = reference.extract_mesh()
    assert abs(len(mesh.triangles) - len(want.triangles)) <= 0.01 * len(want.triangles)
    np.testing.assert_allclose(mesh.get_min_bound(), want.get_min_bound(), atol=0.02)
    np.testing.assert_allclose(mesh.get_max_bound(), want.get_max_bound(), atol=0.02)
