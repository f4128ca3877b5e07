"""What the trained sigma head sees: per-face features that carry the geometric estimate's error.

Each says why a gaze may be wrong: a small or blurred face (size, sharpness), a face cut by the
border (outside), an occluded or odd face (the mesh's presence, the mesh's misfit to the rigid
face model after solvePnP), closed or squinting eyes (openness, iris size), a turned head (the
far eye is foreshortened), and the two eyes disagreeing. The head (``models/zoo/gaze_sigma``,
our own model, trained by ``sensorium train gaze``) maps them to a correction of (yaw, pitch)
and its scale sigma; without the head the stage returns sigma None.

Mirror symmetry by construction: every feature is unchanged by a horizontal mirror (per-eye
values enter as the smaller and the larger of the two, yaws as magnitudes), so sigma is too, and
the yaw correction is read in the direction of the estimate's yaw (``apply_correction``), so a
mirrored face gets the mirrored correction.
"""

from __future__ import annotations

import numpy as np

FEATURES = (
    "log_face_px", "presence", "open_min", "open_max", "iris_min", "iris_max", "abs_head_yaw", "head_pitch",
    "abs_head_roll", "eye_yaw_gap", "eye_pitch_gap", "sharpness", "outside", "pnp_error", "abs_gaze_yaw", "gaze_pitch",
    "log_eye_px",
)


def face_features(*, roi_side: float, presence: float, openness: np.ndarray, iris_ratio: np.ndarray, head: np.ndarray,
                  eye_angles: np.ndarray, sharpness: float, outside: float, pnp_error: float, gaze: np.ndarray,
                  eye_width: np.ndarray) -> np.ndarray:
    """One face's (len(FEATURES),) float32 feature vector, in ``FEATURES`` order.

    head (yaw, pitch, roll) and gaze (yaw, pitch) radians; eye_angles (2, 2) per eye; pnp_error:
    RMS reprojection error over the crop side; openness, iris_ratio, eye_width (2,) per eye.
    """
    presence = float(np.clip(presence, 1e-4, 1 - 1e-4))
    return np.array([
        np.log(max(roi_side, 1.0)), np.log(presence / (1 - presence)), np.min(openness), np.max(openness), np.min(iris_ratio),
        np.max(iris_ratio), abs(head[0]), head[1], abs(head[2]), abs(eye_angles[0, 0] - eye_angles[1, 0]),
        abs(eye_angles[0, 1] - eye_angles[1, 1]), sharpness, outside, pnp_error, abs(gaze[0]), gaze[1],
        np.log(max(float(np.min(eye_width)), 1.0)),
    ], np.float32)


def yaw_sign(yaw_pitch: np.ndarray) -> np.ndarray:
    """(N, 2) -> (N, 2) factors that turn a correction read in the estimate's yaw direction into camera yaw, pitch."""
    sign = np.where(np.asarray(yaw_pitch)[:, 0] < 0, -1.0, 1.0).astype(np.float32)
    return np.stack([sign, np.ones_like(sign)], axis=1)


def apply_correction(raw: np.ndarray, correction: np.ndarray) -> np.ndarray:
    """The stage's gaze: raw (N, 2) (yaw, pitch) radians plus the head's correction (N, 2), its yaw
    part taken toward the raw yaw's side (see the module docstring)."""
    return (raw + correction * yaw_sign(raw)).astype(np.float32)
