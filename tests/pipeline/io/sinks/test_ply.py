"""The PLY sink: point clouds read back with Open3D."""

from __future__ import annotations

import json
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import open3d as o3d
import pytest

from sensorium.pipeline.io.sinks import SINKS, JsonlSink, NpzSink, Sink, VideoSink, build_sinks, frame_stem, safe_name
from sensorium.stages.camera import Intrinsics
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Detections
from tests.pipeline.io.sinks.conftest import SRC, K, make_depth, make_frames, load_rgbd  # noqa: F401


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
