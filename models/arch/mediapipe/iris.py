"""MediaPipe's iris model (iris_landmark.tflite, 64x64) on eye crops taken from the face mesh.

What MediaPipe's iris graphs do, reimplemented: each eye's region is the square around its two
corner landmarks (33-133 for the subject's right eye, 362-263 for the left), 2.3 times the
eye's width, along the corner line; the model knows one eye only (the subject's right, on the
image's left), so the other eye's crop is mirrored before the model and its points mirrored
back. Out come 71 eye-contour and brow points and 5 iris points (centre first), x, y, z in
crop pixels, projected back to image pixels.
"""

from __future__ import annotations

import numpy as np

from sensorium.models.arch.mediapipe.roi import Roi, crop, project, roi_from_landmarks

INPUT_SIZE = 64
NUM_CONTOUR, NUM_IRIS = 71, 5
ROI_SCALE = 2.3
#: eye -> (corner landmark on the image's left, on its right, mirrored for the model)
EYES = {"right": (33, 133, False), "left": (362, 263, True)}  # the subject's sides


def eye_rois(mesh: np.ndarray) -> dict[str, Roi]:
    """Both eyes' regions from one face's (468, 3) image-pixel mesh landmarks."""
    return {eye: roi_from_landmarks(mesh[[a, b]], 0, 1, scale=ROI_SCALE) for eye, (a, b, _) in EYES.items()}


def preprocess(image_rgb: np.ndarray, rois: dict[str, Roi]) -> tuple[np.ndarray, list[np.ndarray]]:
    """((E, 64, 64, 3) float32 in [0, 1], each crop's (2, 3) crop -> image affine), eyes in ``rois`` order."""
    patches, affines = [], []
    for eye, roi in rois.items():
        patch, to_image = crop(image_rgb, roi, INPUT_SIZE)
        patches.append(patch[:, ::-1] if EYES[eye][2] else patch)
        affines.append(to_image)
    return np.stack(patches).astype(np.float32) / 255.0, affines


def decode(contours: np.ndarray, iris: np.ndarray, eyes: list[str], affines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Raw (E, 213) and (E, 15) outputs -> ((E, 71, 3) contour, (E, 5, 3) iris) image pixels, iris centre first."""
    e = len(eyes)
    if contours.shape != (e, NUM_CONTOUR * 3) or iris.shape != (e, NUM_IRIS * 3) or len(affines) != e:
        raise ValueError(f"expected contours ({e}, {NUM_CONTOUR * 3}) and iris ({e}, {NUM_IRIS * 3}) for eyes {eyes}, "
                         f"got {contours.shape} and {iris.shape}")
    out_c, out_i = [], []
    for k, (eye, to_image) in enumerate(zip(eyes, affines)):
        c, i = contours[k].reshape(NUM_CONTOUR, 3).copy(), iris[k].reshape(NUM_IRIS, 3).copy()
        if EYES[eye][2]:  # mirrored crop: mirror x back (continuous pixels: x -> 64 - x)
            c[:, 0], i[:, 0] = INPUT_SIZE - c[:, 0], INPUT_SIZE - i[:, 0]
        out_c.append(project(c, to_image, INPUT_SIZE))
        out_i.append(project(i, to_image, INPUT_SIZE))
    return np.array(out_c, np.float32).reshape(e, NUM_CONTOUR, 3), np.array(out_i, np.float32).reshape(e, NUM_IRIS, 3)
