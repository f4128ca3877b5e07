"""Eye-in-head angles from the iris centre relative to the eye contour (an eyeball model).

Per eye, from the iris model's own points (one model, so x, y and z agree): the eye's centre line
runs between its corners (contour points 0, the outer corner, and 8, the inner one; 4 and 12 are
the lower and upper lid middles). The eyeball is a sphere of radius ``EYEBALL_RATIO`` times the
corner-to-corner width whose front, looking straight ahead, sits at the corners' midpoint; the
iris centre's offset from that midpoint, turned into the head's frame (R^T), over the radius gives
the sine of the eye's yaw and pitch. 12 mm eyeball radius over a 28 mm eye opening: 0.43.
Looking level, the iris centre sits above the corner line (the lower lid's corner line sags): by
``NEUTRAL_RISE`` radii, the median over the frontal faces (|head yaw| < 25 degrees, 42 faces) of
the project's test photos and clip, taking their gaze as level on average; it is subtracted.
"""

from __future__ import annotations

import numpy as np

from sensorium.stages.gaze.head_pose import yaw_pitch

OUTER, INNER, LOWER, UPPER = 0, 8, 4, 12  # eye-contour indices shared by both eyes (the left eye's crop is mirrored)
EYEBALL_RATIO = 0.43
NEUTRAL_RISE = 0.24  # in eyeball radii, up in the head frame (-y)
MAX_SINE = 0.95  # an offset past the eyeball's rim (a landmark error) is held at ~72 degrees


def eye_geometry(contour: np.ndarray, iris: np.ndarray, R: np.ndarray) -> dict[str, np.ndarray]:
    """One face's eyes: contour (2, 71, 3), iris (2, 5, 3) image pixels, R (3, 3) head -> camera.

    Returns ``angles`` (2, 2) eye-in-head (yaw, pitch) radians per eye (right, left),
    ``directions`` (2, 3) each eye's gaze direction in the head frame, ``openness`` (2,) lid gap
    over eye width, ``iris_ratio`` (2,) iris radius over eye width, ``width`` (2,) eye width pixels.
    """
    corners = 0.5 * (contour[:, OUTER] + contour[:, INNER])  # (2, 3)
    width = np.linalg.norm(contour[:, OUTER, :2] - contour[:, INNER, :2], axis=-1)
    offset = (iris[:, 0] - corners) @ R  # rows are R^T @ offset: the head frame
    radius = EYEBALL_RATIO * np.maximum(width, 1e-3)
    sx = np.clip(offset[:, 0] / radius, -MAX_SINE, MAX_SINE)
    sy = np.clip(offset[:, 1] / radius + NEUTRAL_RISE, -MAX_SINE, MAX_SINE)
    sz = np.sqrt(np.clip(1.0 - sx**2 - sy**2, 0.05, 1.0))
    directions = np.stack([sx, sy, -sz], axis=1)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    openness = np.linalg.norm(contour[:, UPPER, :2] - contour[:, LOWER, :2], axis=-1) / np.maximum(width, 1e-3)
    iris_r = np.linalg.norm(iris[:, 1:, :2] - iris[:, :1, :2], axis=-1).mean(1) / np.maximum(width, 1e-3)
    return {"angles": yaw_pitch(directions), "directions": directions, "openness": openness,
            "iris_ratio": iris_r, "width": width}
