"""Depth → point cloud through Open3D: geometry, colours, down-sampling, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.depth.pointcloud import DEFAULT_GREY, depth_to_points

K = np.array([[100.0, 0, 31.5], [0, 100.0, 23.5], [0, 0, 1]])


def plane(z: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    depth = np.full((48, 64), z, np.float32)
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[:, 32:, 2] = 90
    return depth, rgb


def test_every_pixel_back_projects_through_k() -> None:
    depth, rgb = plane()
    depth[0, 0] = 0  # unknown
    depth[1, 1] = np.nan  # not finite: unknown too
    points, colors = depth_to_points(depth, K, rgb, voxel_size=0)
    assert points.shape == (48 * 64 - 2, 3) and colors.shape == points.shape
    assert np.allclose(points[:, 2], 2.0)
    u = points[:, 0] / points[:, 2] * K[0, 0] + K[0, 2]
    v = points[:, 1] / points[:, 2] * K[1, 1] + K[1, 2]
    assert np.allclose(u, np.rint(u), atol=1e-4) and u.min() == pytest.approx(0, abs=1e-4) and u.max() == pytest.approx(63)
    assert v.min() == pytest.approx(0, abs=1e-4) and v.max() == pytest.approx(47)
    # colours follow their pixels (RGB order, not BGR)
    right_half = u > 31.5
    assert (colors[right_half] == [200, 0, 90]).all() and (colors[~right_half] == [200, 0, 0]).all()


@pytest.mark.parametrize("voxel, expected", [(0.0, 3072), (0.04, (1.28 / 0.04) * (0.96 / 0.04))])
def test_voxel_down_sampling(voxel: float, expected: float) -> None:
    # a 64x48 plane at 2 m spans 1.28 x 0.96 m: about (1.28 / v) x (0.96 / v) voxels
    depth, rgb = plane()
    points, colors = depth_to_points(depth, K, rgb, voxel_size=voxel)
    assert abs(points.shape[0] - expected) <= 0.15 * expected
    assert colors.shape == points.shape


def test_without_colour_and_truncation() -> None:
    depth, _ = plane(3.0)
    depth[:, :10] = 1.0
    points, colors = depth_to_points(depth, K, None, voxel_size=0, max_depth=2.0)
    assert points.shape[0] == 48 * 10 and np.allclose(points[:, 2], 1.0)
    assert (colors == DEFAULT_GREY).all()


@pytest.mark.parametrize(
    "depth, k, rgb, match",
    [
        (np.zeros((4, 4), np.uint16), K, None, r"float metres"),
        (np.zeros((4, 4, 1), np.float32), K, None, r"\(H, W\) float"),
        (np.zeros((4, 4), np.float32), np.eye(2), None, r"K: expected \(3, 3\)"),
        (np.zeros((4, 4), np.float32), K, np.zeros((4, 5, 3), np.uint8), r"rgb: expected \(4, 4, 3\) uint8"),
    ],
)
def test_rejects_bad_inputs(depth, k, rgb, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        depth_to_points(depth, k, rgb)
