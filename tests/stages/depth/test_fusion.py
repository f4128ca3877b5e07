"""TSDF fusion on the real Redwood RGB-D frames: with their known poses and by odometry."""

from __future__ import annotations

import json
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import pytest

from sensorium.stages.depth.fusion import SKIP_CAMERA_CHANGED, SKIP_LOW_OVERLAP, SKIP_NO_DEPTH, TSDFFusion


def load_redwood(root: Path) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """(colours (H, W, 3) uint8 RGB, depths (H, W) float32 m, K (3, 3), camera-to-world poses)."""
    colors = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted((root / "color").glob("*.jpg"))]
    depths = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0 for p in sorted((root / "depth").glob("*.png"))]
    cam = json.loads((root / "camera_primesense.json").read_text())
    K = np.asarray(cam["intrinsic_matrix"], dtype=np.float64).reshape(3, 3).T  # stored column-major
    lines = [ln for ln in (root / "trajectory.log").read_text().splitlines() if ln.strip()]
    poses = [np.loadtxt(lines[i + 1 : i + 5]) for i in range(0, len(lines), 5)]
    return colors, depths, K, poses


@pytest.fixture(scope="module")
def redwood(data_dir: Path):
    colors, depths, K, poses = load_redwood(data_dir / "rgbd" / "redwood")
    assert len(colors) == len(depths) == len(poses) == 5
    assert K[0, 0] == K[1, 1] == 525.0 and (K[0, 2], K[1, 2]) == (319.5, 239.5)
    return colors, depths, K, poses


@pytest.fixture(scope="module")
def fused_with_poses(redwood):
    colors, depths, K, poses = redwood
    fusion = TSDFFusion(voxel_length=0.01, sdf_trunc=0.04, depth_trunc=3.0)
    used = [fusion.integrate(c, d, K, p) for c, d, p in zip(colors, depths, poses)]
    return fusion, used


@pytest.fixture(scope="module")
def fused_by_odometry(redwood):
    colors, depths, K, _ = redwood
    fusion = TSDFFusion(voxel_length=0.01, sdf_trunc=0.04, depth_trunc=3.0)
    for c, d in zip(colors, depths):
        fusion.integrate(c, d, K)
    return fusion


def test_known_poses_give_a_mesh_on_the_observed_surface(redwood, fused_with_poses):
    colors, depths, K, poses = redwood
    fusion, used = fused_with_poses
    assert fusion.frames_integrated == 5 and not fusion.frames_skipped
    for given, got in zip(poses, used):
        np.testing.assert_allclose(got, given)
    mesh = fusion.extract_mesh()
    assert len(mesh.vertices) > 50_000 and len(mesh.triangles) > 100_000
    assert mesh.has_vertex_colors() and mesh.has_vertex_normals()
    assert 0 <= np.asarray(mesh.vertex_colors).min() and np.asarray(mesh.vertex_colors).max() <= 1
    extent = mesh.get_axis_aligned_bounding_box().get_extent()
    assert np.all(extent > 0.5) and np.all(extent < 4.0), extent  # a room corner, seen from ~2 m

    # The surface lies where the sensor saw it: project the vertices into frame 0 (world →
    # camera is the inverse pose) and compare their depth with the measured depth there.
    v = np.asarray(mesh.vertices)
    cam = (np.linalg.inv(poses[0]) @ np.c_[v, np.ones(len(v))].T)[:3].T
    cam = cam[cam[:, 2] > 0.1]
    uv = (K @ cam.T).T
    u, w = np.round(uv[:, 0] / uv[:, 2]).astype(int), np.round(uv[:, 1] / uv[:, 2]).astype(int)
    inside = (u >= 0) & (u < 640) & (w >= 0) & (w < 480)
    measured = depths[0][w[inside], u[inside]]
    seen = measured > 0
    assert seen.sum() > 10_000
    error = np.abs(cam[inside][seen, 2] - measured[seen])
    assert np.median(error) < 0.01, np.median(error)

    # colours come from the images: same mean brightness within a few levels
    assert abs(np.asarray(mesh.vertex_colors).mean() * 255 - np.mean(colors)) < 30

    cloud = fusion.extract_point_cloud()
    assert len(cloud.points) > 50_000 and cloud.has_colors()


def test_odometry_recovers_the_trajectory(redwood, fused_by_odometry):
    _, _, _, poses = redwood
    fusion = fused_by_odometry
    assert fusion.frames_integrated == 5 and fusion.poses_estimated == 4 and not fusion.frames_skipped
    np.testing.assert_array_equal(fusion.poses[0], np.eye(4))  # the first camera is the world
    for i in range(1, 5):
        truth = np.linalg.inv(poses[i - 1]) @ poses[i]
        est = np.linalg.inv(fusion.poses[i - 1]) @ fusion.poses[i]
        # the camera moves ~24 mm per frame; odometry gets each step to a few mm
        assert np.linalg.norm(truth[:3, 3]) > 0.02
        assert np.linalg.norm(est[:3, 3] - truth[:3, 3]) < 0.005
        cos = (np.trace(est[:3, :3].T @ truth[:3, :3]) - 1) / 2
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))) < 0.5
    # chained drift over the 4 steps (~10 cm of motion) stays under a centimetre
    chained = np.linalg.inv(poses[0]) @ poses[4]
    assert np.linalg.norm(fusion.poses[4][:3, 3] - chained[:3, 3]) < 0.01

    mesh = fusion.extract_mesh()
    assert len(mesh.vertices) > 50_000 and len(mesh.triangles) > 100_000
    extent = mesh.get_axis_aligned_bounding_box().get_extent()
    assert np.all(extent > 0.5) and np.all(extent < 4.0), extent


def test_known_and_estimated_poses_build_the_same_surface(fused_with_poses, fused_by_odometry, redwood):
    _, _, _, poses = redwood
    a = len(fused_with_poses[0].extract_mesh().triangles)
    b = len(fused_by_odometry.extract_mesh().triangles)
    assert abs(a - b) / a < 0.1
    # odometry's world is camera 0's; move the known-pose mesh there and compare the boxes
    known = fused_with_poses[0].extract_mesh().transform(np.linalg.inv(poses[0]))
    box_a, box_b = known.get_axis_aligned_bounding_box(), fused_by_odometry.extract_mesh().get_axis_aligned_bounding_box()
    np.testing.assert_allclose(box_a.get_min_bound(), box_b.get_min_bound(), atol=0.05)
    np.testing.assert_allclose(box_a.get_max_bound(), box_b.get_max_bound(), atol=0.05)


def test_min_observations_drops_surface_seen_by_fewer_frames(fused_with_poses):
    fusion, _ = fused_with_poses
    counts = [len(fusion.extract_mesh(min_observations=n).triangles) for n in (1, 3, 5, 6)]
    assert counts[0] > counts[1] > counts[2] > 0 and counts[3] == 0  # nothing was seen 6 times
    with pytest.raises(ValueError, match="min_observations"):
        fusion.extract_mesh(min_observations=0)


def test_skips_are_counted_with_their_reason(redwood):
    colors, depths, K, _ = redwood
    fusion = TSDFFusion()
    assert fusion.integrate(colors[0], np.zeros_like(depths[0]), K) is None  # nothing to fuse
    assert fusion.last_skip_reason == SKIP_NO_DEPTH
    assert fusion.integrate(colors[0], depths[0], K) is not None
    # a blank wall: Open3D's odometry "succeeds" with a metre-scale jump; the overlap check refuses it
    blank = np.full_like(colors[0], 128)
    assert fusion.integrate(blank, np.full_like(depths[0], 1.0), K) is None
    assert fusion.last_skip_reason == SKIP_LOW_OVERLAP
    # a different camera cannot be tracked against the previous one
    half = cv2.resize(colors[1], (320, 240)), cv2.resize(depths[1], (320, 240), interpolation=cv2.INTER_NEAREST)
    assert fusion.integrate(*half, K / np.array([[2], [2], [1]])) is None
    assert fusion.last_skip_reason == SKIP_CAMERA_CHANGED
    # tracking resumes against the last fused frame
    assert fusion.integrate(colors[1], depths[1], K) is not None
    assert fusion.frames_integrated == 2
    assert fusion.frames_skipped == {SKIP_NO_DEPTH: 1, SKIP_LOW_OVERLAP: 1, SKIP_CAMERA_CHANGED: 1}
    assert fusion.stats()["frames_skipped"] == {SKIP_NO_DEPTH: 1, SKIP_LOW_OVERLAP: 1, SKIP_CAMERA_CHANGED: 1}


def test_colourless_fusion_and_empty_volume(redwood):
    colors, depths, K, poses = redwood
    fusion = TSDFFusion(voxel_length=0.02, sdf_trunc=0.08, color=False)
    assert len(fusion.extract_mesh().vertices) == 0  # nothing integrated yet
    fusion.integrate(colors[0], depths[0], K, poses[0])
    mesh = fusion.extract_mesh()
    assert len(mesh.triangles) > 10_000 and not mesh.has_vertex_colors()
    assert not fusion.extract_point_cloud().has_colors()
    fusion.reset()
    assert fusion.frames_integrated == 0 and len(fusion.extract_mesh().vertices) == 0


RGB = np.zeros((4, 6, 3), np.uint8)
DEPTH = np.ones((4, 6), np.float32)
K0 = np.array([[5.0, 0, 3], [0, 5.0, 2], [0, 0, 1]])


@pytest.mark.parametrize(
    "color, depth, K, pose, expectation",
    [
        (RGB, DEPTH, K0, np.eye(4), does_not_raise()),
        (RGB[..., :2], DEPTH, K0, None, pytest.raises(ValueError, match="uint8 RGB")),
        (RGB.astype(np.float32), DEPTH, K0, None, pytest.raises(ValueError, match="uint8 RGB")),
        (RGB, DEPTH[:3], K0, None, pytest.raises(ValueError, match="sizes differ")),
        (RGB, DEPTH.astype(np.uint16), K0, None, pytest.raises(ValueError, match="float depth")),
        (RGB, DEPTH, np.eye(2), None, pytest.raises(ValueError, match="intrinsics")),
        (RGB, DEPTH, K0 * np.array([[-1], [1], [1]]), None, pytest.raises(ValueError, match="intrinsics")),
        (RGB, DEPTH, K0, np.eye(3), pytest.raises(ValueError, match="camera-to-world")),
        (RGB, DEPTH, K0, np.full((4, 4), np.nan), pytest.raises(ValueError, match="camera-to-world")),
        (RGB, DEPTH, K0, np.diag([2.0, 2.0, 2.0, 1.0]), pytest.raises(ValueError, match="rigid")),
    ],
)
def test_integrate_validates_its_inputs(color, depth, K, pose, expectation):
    with expectation:
        TSDFFusion().integrate(color, depth, K, pose)


@pytest.mark.parametrize(
    "kwargs, expectation",
    [
        ({}, does_not_raise()),
        ({"voxel_length": 0}, pytest.raises(ValueError, match="voxel_length")),
        ({"voxel_length": 0.05, "sdf_trunc": 0.01}, pytest.raises(ValueError, match="sdf_trunc")),
        ({"depth_trunc": -1}, pytest.raises(ValueError, match="depth_trunc")),
        ({"odometry_min_overlap": 1.5}, pytest.raises(ValueError, match="overlap")),
    ],
)
def test_constructor_validates_its_options(kwargs, expectation):
    with expectation:
        TSDFFusion(**kwargs)
