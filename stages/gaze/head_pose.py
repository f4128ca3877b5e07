"""Head pose by ``cv2.solvePnP`` of the face mesh against a 3-D face model of our own making.

The model (``face_model.csv``, 468 points, millimetres) is the mean of MediaPipe face meshes of
real frontal faces in the project's test data (each mesh's own x, y, z), Procrustes-aligned and
made mirror-symmetric, so a frontal face has yaw 0 and a mirrored face the opposite yaw. Its
frame is the camera's convention (X right, Y down, Z forward, into the head): X along the outer
eye corners (33 -> 263), Y along forehead -> chin (10 -> 152) made orthogonal to X; the face
looks along -Z. Scale: 90 mm between the outer eye corners (an adult mean). ``build_face_model``
makes it from meshes. The shipped file came from 40 faces (YuNet boxes, mesh presence > 0.5) of the
gallery photos, ``two_people.jpg``, ``lin-manuel-miranda.png`` and every 10th frame of the Hamilton
clip; ``sensorium train gaze --face-model PATH`` rebuilds one the same way from the training and
held-out images of ``train_gaze.SPLITS`` (a slightly different set: retrain the sigma head after).

Angles (radians) follow :class:`~sensorium.stages.results.Gaze`: a direction d = (-cos p sin y,
-sin p, -cos p cos y), so yaw > 0 turns the face toward the image's left (the subject's right)
and pitch > 0 looks up; roll is the eye line's angle in the image (clockwise positive, y down).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

FACE_MODEL_FILE = Path(__file__).with_name("face_model.csv")
OUTER_EYE = (33, 263)  # the subject's right, left outer eye corners
BROW_CHIN = (10, 152)
EYE_SPAN_MM = 90.0
#: points solvePnP uses: the rigid part of the face (brows, eye corners, nose, cheek line, chin), not the lips and lids
RIGID = (1, 4, 5, 6, 10, 33, 46, 52, 55, 63, 70, 105, 107, 133, 151, 152, 168, 195, 197, 234, 263, 276, 282, 285, 293,
         300, 334, 336, 362, 454, 127, 356, 93, 323, 132, 361, 58, 288, 172, 397, 136, 365, 149, 378, 148, 377, 9, 8)


def yaw_pitch(directions: np.ndarray) -> np.ndarray:
    """(N, 3) unit directions, camera frame -> (N, 2) (yaw, pitch) radians, the inverse of ``Gaze.vectors``."""
    d = np.asarray(directions, np.float64)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    return np.stack([np.arctan2(-d[:, 0], -d[:, 2]), np.arcsin(np.clip(-d[:, 1], -1, 1))], axis=1)


def direction(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(N,) yaw, pitch radians -> (N, 3) unit directions (``Gaze.vectors``' convention)."""
    return np.stack([-np.cos(pitch) * np.sin(yaw), -np.sin(pitch), -np.cos(pitch) * np.cos(yaw)], axis=-1)


def _frame(points: np.ndarray) -> np.ndarray:
    """(3, 3) rows x, y, z of the face frame of a (468, 3) mesh."""
    x = points[OUTER_EYE[1]] - points[OUTER_EYE[0]]
    x /= np.linalg.norm(x)
    y = points[BROW_CHIN[1]] - points[BROW_CHIN[0]]
    y -= x * (y @ x)
    y /= np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)])


def _align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``src`` (P, 3) rotated (Kabsch, no scaling) onto ``dst``; both centred."""
    u, _, vt = np.linalg.svd(src.T @ dst)
    fix = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    return src @ (u @ fix @ vt)


def build_face_model(meshes: np.ndarray, iterations: int = 5) -> np.ndarray:
    """(M, 468, 3) image-pixel meshes of frontal faces -> (468, 3) float32 model, millimetres, face frame,
    symmetric under x -> -x with the mirror partner of each point found by nearest neighbour."""
    shapes = []
    for m in np.asarray(meshes, np.float64):
        c = m - m.mean(0)
        c = c @ _frame(c).T
        shapes.append(c * EYE_SPAN_MM / np.linalg.norm(c[OUTER_EYE[1]] - c[OUTER_EYE[0]]))
    mean = np.mean(shapes, 0)
    for _ in range(iterations):  # generalised Procrustes: align each to the mean, re-average
        mean = np.mean([_align(s, mean) for s in shapes], 0)
    mirrored = mean * np.array([-1.0, 1.0, 1.0])
    partner = np.argmin(np.linalg.norm(mean[:, None] - mirrored[None], axis=-1), axis=1)
    sym = 0.5 * (mean + mirrored[partner])
    sym -= sym.mean(0)
    sym = sym @ _frame(sym).T
    return (sym * EYE_SPAN_MM / np.linalg.norm(sym[OUTER_EYE[1]] - sym[OUTER_EYE[0]])).astype(np.float32)


@lru_cache(maxsize=1)
def face_model() -> np.ndarray:
    """The shipped (468, 3) float32 face model, millimetres (see the module docstring)."""
    if not FACE_MODEL_FILE.is_file():
        raise FileNotFoundError(f"{FACE_MODEL_FILE} is missing: make it with `sensorium train gaze --face-model {FACE_MODEL_FILE}`")
    pts = np.loadtxt(FACE_MODEL_FILE, delimiter=",", dtype=np.float32)
    if pts.shape != (468, 3):
        raise ValueError(f"{FACE_MODEL_FILE}: expected 468 rows of x, y, z, got {pts.shape}")
    return pts


def camera_matrix(width: int, height: int, K: np.ndarray | None = None) -> np.ndarray:
    """(3, 3) float64 intrinsics: ``K`` from the frame's calibration, else focal = image width, centre of the image."""
    if K is not None:
        return np.asarray(K, np.float64)
    return np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], np.float64)


def solve_head_pose(mesh: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One face's (468, 2+) image-pixel mesh -> (R (3, 3) model -> camera, t (3,) millimetres, camera frame)."""
    model = face_model()[list(RIGID)].astype(np.float64)
    img = np.ascontiguousarray(mesh[list(RIGID), :2], np.float64)
    ok, rvec, tvec = cv2.solvePnP(model, img, K, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise ValueError("solvePnP found no head pose for the face mesh")
    ok, rvec, tvec = cv2.solvePnP(model, img, K, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    return cv2.Rodrigues(rvec)[0], tvec.reshape(3)


def head_angles(R: np.ndarray) -> np.ndarray:
    """(3,) (yaw, pitch, roll) radians of a head rotation: yaw and pitch of the face's forward
    direction R @ (0, 0, -1), roll the turn of the head's x axis about it, seen in the image."""
    forward = R @ np.array([0.0, 0.0, -1.0])
    yaw, pitch = yaw_pitch(forward[None])[0]
    # roll: the head's x axis in the frame of the same gaze without roll (x level, y down, z = -forward)
    z = -forward
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= max(np.linalg.norm(x), 1e-9)
    x_local = np.stack([x, np.cross(z, x), z], 1).T @ R[:, 0]
    return np.array([yaw, pitch, np.arctan2(x_local[1], x_local[0])])
