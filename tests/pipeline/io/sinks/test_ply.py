"""The PLY sink: point clouds read back with Open3D."""

from __future__ import annotations

import numpy as np
import open3d as o3d

from sensorium.pipeline.io.sinks import frame_stem
from sensorium.stages.results import Depth


def test_ply_clouds_have_the_depth_points(written):
    out, frames, summaries = written
    clouds = sorted((out / "clouds").glob("*.ply"))
    assert len(clouds) == 5 and summaries["ply"]["written"] == 5
    for frame in frames:
        found = [r for r in frame.results.values() if isinstance(r, Depth)]
        path = out / "clouds" / f"{frame_stem(frame)}.ply"
        assert path.exists() == bool(found)
        if found:
            cloud = o3d.io.read_point_cloud(str(path))
            assert len(cloud.points) == len(found[0].points) > 1000
            np.testing.assert_allclose(np.asarray(cloud.points), found[0].points, atol=1e-6)
            np.testing.assert_allclose(np.asarray(cloud.colors) * 255, found[0].colors, atol=0.5)
