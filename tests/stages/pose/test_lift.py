"""Keypoints lifted with Redwood's real depth map and intrinsics: the back-projection, holes, the border."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensorium.stages.pose.lift import KeypointLift, lift_keypoints
from sensorium.stages.results import Depth


@pytest.fixture(scope="module")
def depth(data_dir) -> Depth:
    mm = cv2.imread(str(data_dir / "rgbd/redwood/depth/00000.png"), cv2.IMREAD_UNCHANGED)
    z = mm.astype(np.float32) / 1000
    K = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])  # camera_primesense.json
    return Depth(depth=z, confidence=(z > 0).astype(np.float32), K=K)


def test_a_keypoint_is_back_projected_through_the_intrinsics(depth):
    valid = np.argwhere(depth.depth[100:380, 100:540] > 0)[::997][:20] + [100, 100]  # (v, u) with depth
    xy = (valid[:, ::-1] + 0.5).astype(np.float32)[None]  # pixel centres, (1, M, 2)
    cam = lift_keypoints(xy, depth, depth.depth.shape)[0]
    assert np.isfinite(cam).all() and (cam[:, 2] > 0).all()
    u, v = xy[0, :, 0], xy[0, :, 1]
    assert np.allclose(cam[:, 0], (u - 319.5) * cam[:, 2] / 525, atol=1e-4)
    assert np.allclose(cam[:, 1], (v - 239.5) * cam[:, 2] / 525, atol=1e-4)
    window_max = [depth.depth[r - 3:r + 4, c - 3:c + 4].max() for r, c in valid]
    assert (cam[:, 2] <= np.array(window_max) + 1e-6).all()  # the nearest cluster's median, never beyond the window


def test_outside_the_map_and_in_holes_is_nan(depth):
    hole = np.argwhere(cv2.erode((depth.depth == 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    assert len(hole), "Redwood's depth has holes"
    v, u = hole[0]
    xy = np.array([[[-5, 10], [700, 10], [u + 0.5, v + 0.5]]], np.float32)
    assert np.isnan(lift_keypoints(xy, depth, depth.depth.shape)).all()


def test_a_larger_image_is_scaled_into_the_depth_map(depth):
    xy = np.array([[[320.5, 240.5]]], np.float32)
    at_depth = lift_keypoints(xy, depth, depth.depth.shape)
    at_double = lift_keypoints(xy * 2, depth, (960, 1280))
    assert np.allclose(at_depth, at_double, equal_nan=True)


def test_uncalibrated_depth_is_refused(depth):
    K = depth.K.copy()
    K[0, 0] = K[1, 1] = np.nan
    flat = Depth(depth=depth.depth, confidence=depth.confidence, K=K)
    with pytest.raises(ValueError, match="no focal length"):
        lift_keypoints(np.zeros((1, 1, 2), np.float32), flat, flat.depth.shape, KeypointLift())
