"""Face mesh and iris landmarks for every face of a batch, two session calls in all.

The mesh's region comes from the face stage's box and its two eye landmarks, as MediaPipe makes
it from a detection (``roi_from_box``: the box's longer side times 1.5, turned along the eye
line); the iris regions from the mesh's eye corners. All faces of all frames go through the mesh
in one call, then all their eyes (two per face) through the iris model in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sensorium.models.arch.mediapipe import face_mesh as fm
from sensorium.models.arch.mediapipe import iris
from sensorium.models.arch.mediapipe.roi import Roi, roi_from_box

EYES = ("right", "left")  # the subject's sides, the order of every per-eye array


@dataclass(frozen=True)
class FaceLandmarks:
    """Landmarks of F faces, image pixels (z: relative depth in x's units).

    mesh (F, 468, 3); presence (F,) the mesh model's face probability; contour (F, 2, 71, 3) and
    iris (F, 2, 5, 3) per eye in ``EYES`` order (iris centre first); roi_side (F,) the mesh crop's side;
    sharpness (F,) log variance of the Laplacian of the mesh crop (blur); outside (F,) the share of
    the mesh crop beyond the image border (truncation).
    """

    mesh: np.ndarray
    presence: np.ndarray
    contour: np.ndarray
    iris: np.ndarray
    roi_side: np.ndarray
    sharpness: np.ndarray
    outside: np.ndarray


def mesh_roi(box: np.ndarray, eyes: np.ndarray) -> Roi:
    """The mesh region of one face: box (4,) xyxy and its (5, 2) face-stage landmarks (right eye first)."""
    return roi_from_box(box, eyes[0], eyes[1], scale=fm.ROI_SCALE)


def sharpness(patches: np.ndarray) -> np.ndarray:
    """(B, S, S, 3) float32 crops in [0, 1] -> (B,) log variance of their grey Laplacian (lower: blurrier)."""
    grey = patches.mean(-1) * 255.0
    lap = grey[:, 1:-1, 1:-1] * 4 - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1] - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:]
    return np.log(lap.reshape(len(lap), -1).var(1) + 1.0).astype(np.float32)


def outside_share(roi: Roi, width: int, height: int, n: int = 12) -> float:
    """Share of the region's area beyond the image (a grid of n x n samples)."""
    g = (np.arange(n) + 0.5) / n
    to_image = roi.patch_to_image(1)
    pts = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2) @ to_image[:, :2].T + to_image[:, 2]
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
    return float(1.0 - inside.mean())


def run_landmarks(mesh_model, iris_model, images: Sequence[np.ndarray], faces: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[FaceLandmarks]:
    """Per image, the landmarks of its faces.

    images: RGB uint8 (H, W, 3); faces: per image (boxes (N, 4) xyxy, landmarks (N, 5, 2)) pixels.
    ``mesh_model``/``iris_model``: callables feed (B, S, S, 3) float32 -> list of raw outputs.
    """
    counts = [len(b) for b, _ in faces]
    patches, affines, rois, outside = [], [], [], []
    for img, (boxes, lms) in zip(images, faces):
        r = [mesh_roi(b, lm) for b, lm in zip(boxes, lms)]
        outside += [outside_share(x, img.shape[1], img.shape[0]) for x in r]
        batch, aff = fm.preprocess(img, r)
        patches.append(batch)
        affines += aff
        rois += r
    if not rois:
        return [_empty() for _ in images]
    patches = np.concatenate(patches)
    landmarks, presence = fm.decode(*mesh_model(patches), affines)
    sharp, outside = sharpness(patches), np.array(outside, np.float32)
    owner = np.repeat(np.arange(len(images)), counts)
    eye_in, eye_aff = [], []
    for f, lm in enumerate(landmarks):
        eye_rois = iris.eye_rois(lm)
        x, aff = iris.preprocess(images[owner[f]], {e: eye_rois[e] for e in EYES})
        eye_in.append(x)
        eye_aff += aff
    contour, irises = iris.decode(*iris_model(np.concatenate(eye_in)), list(EYES) * len(landmarks), eye_aff)
    contour = contour.reshape(len(landmarks), 2, iris.NUM_CONTOUR, 3)
    irises = irises.reshape(len(landmarks), 2, iris.NUM_IRIS, 3)
    side = np.array([r.side for r in rois], np.float32)
    out, start = [], 0
    for n in counts:
        s = slice(start, start + n)
        out.append(FaceLandmarks(landmarks[s], presence[s], contour[s], irises[s], side[s], sharp[s], outside[s]))
        start += n
    return out


def _empty() -> FaceLandmarks:
    return FaceLandmarks(np.zeros((0, fm.NUM_LANDMARKS, 3), np.float32), np.zeros(0, np.float32),
                         np.zeros((0, 2, iris.NUM_CONTOUR, 3), np.float32), np.zeros((0, 2, iris.NUM_IRIS, 3), np.float32),
                         np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32))
