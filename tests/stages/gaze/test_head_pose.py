"""Head pose: angle conventions, the face model's symmetry, solvePnP recovering a known pose."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensorium.stages.gaze import head_pose as hp
from sensorium.stages.results import Gaze


def test_yaw_pitch_inverts_the_containers_vectors():
    yp = np.array([[0.3, -0.2], [-1.0, 0.5], [0.0, 0.0]], np.float32)
    back = hp.yaw_pitch(Gaze(yaw_pitch=yp).vectors)
    np.testing.assert_allclose(back, yp, atol=1e-5)
    np.testing.assert_allclose(hp.direction(yp[:, 0], yp[:, 1]), Gaze(yaw_pitch=yp).vectors, atol=1e-6)


def test_the_face_model_is_mirror_symmetric_and_faces_minus_z():
    m = hp.face_model()
    mirrored = m * np.array([-1, 1, 1], np.float32)
    nearest = np.linalg.norm(m[:, None] - mirrored[None], axis=-1).min(1)
    assert np.median(nearest) < 0.1 and nearest.max() < 2.0  # mm: every point has a mirror partner (a few by nearest neighbour only)
    assert m[1, 2] < m[33, 2] - 20  # the nose tip is nearer the camera than the eye corners
    assert np.linalg.norm(m[263] - m[33]) == pytest.approx(hp.EYE_SPAN_MM, abs=0.01)


@pytest.mark.parametrize("yaw, pitch, roll", [(0.0, 0.0, 0.0), (0.4, -0.1, 0.05), (-0.5, 0.25, -0.2)])
def test_solvepnp_recovers_a_known_head_pose(yaw, pitch, roll):
    """The face model posed by a known rotation and projected: the solver gives the pose back."""
    forward = hp.direction(np.array([yaw]), np.array([pitch]))[0]  # where the face looks: R @ (0, 0, -1)
    z = -forward
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R0 = np.stack([x, y, z], 1)
    R = R0 @ cv2.Rodrigues(np.array([0.0, 0.0, roll]))[0]
    K = hp.camera_matrix(640, 480)
    pts = hp.face_model().astype(np.float64) @ R.T + [20.0, -10.0, 600.0]
    uv = pts @ K.T
    mesh = uv[:, :2] / uv[:, 2:]
    R_est, t = hp.solve_head_pose(mesh, K)
    angles = hp.head_angles(R_est)
    np.testing.assert_allclose(angles[:2], [yaw, pitch], atol=1e-3)
    assert angles[2] == pytest.approx(roll, abs=1e-3)
    np.testing.assert_allclose(t, [20.0, -10.0, 600.0], atol=0.5)


def test_camera_matrix_defaults_to_focal_width_and_the_centre():
    np.testing.assert_allclose(hp.camera_matrix(640, 480), [[640, 0, 320], [0, 640, 240], [0, 0, 1]])
    K = np.diag([500.0, 500.0, 1.0])
    assert hp.camera_matrix(640, 480, K) is not None and hp.camera_matrix(640, 480, K)[0, 0] == 500


def test_build_face_model_from_a_mesh_and_its_mirror_is_symmetric():
    m = hp.face_model().astype(np.float64)
    tilted = m @ cv2.Rodrigues(np.array([0.1, 0.3, 0.05]))[0].T * 1.7 + 100
    rebuilt = hp.build_face_model(tilted[None])
    np.testing.assert_allclose(rebuilt, m, atol=1.0)
