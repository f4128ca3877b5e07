"""The pose landmark model on a batch of person regions, with the sigma head after it.

All regions of all frames go through onnxruntime in one call (the graph's batch axis is free).
When the sigma head is loaded, its correction is added to the model's (x, y) in crop pixels
before projecting back, so the returned keypoints are exactly what sigma describes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorium.models.arch.mediapipe import pose
from sensorium.models.arch.mediapipe.roi import Roi, crop
from sensorium.models.zoo.pose_sigma import CROP_SIZE, POOLED_OUTPUT, crop_features

LANDMARKS, POSE_FLAG, HEATMAPS, WORLD = "Identity", "Identity_1", "Identity_3", "Identity_4"


@dataclass(frozen=True)
class LandmarkBatch:
    """Per region: decoded results (``pose.decode``'s dict), ``pose_score`` (B,), ``sigma_px``
    (B, 33, 2) image pixels or None, and the raw outputs the training tool reads (``raw``,
    ``features`` (B, F) or None, ``affines`` crop -> image)."""

    decoded: dict[str, np.ndarray]
    pose_score: np.ndarray
    sigma_px: np.ndarray | None
    raw: np.ndarray
    features: np.ndarray | None
    affines: list[np.ndarray]


def crops(items: list[tuple[np.ndarray, Roi]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """((B, 256, 256, 3) float32 in [0, 1], crop -> image affines) for (image, region) pairs."""
    patches, affines = [], []
    for image, roi in items:
        patch, to_image = crop(image, roi, pose.LANDMARK_SIZE)
        patches.append(patch)
        affines.append(to_image)
    if not patches:
        return np.zeros((0, pose.LANDMARK_SIZE, pose.LANDMARK_SIZE, 3), np.float32), []
    return np.stack(patches).astype(np.float32) / 255.0, affines


def sigma_to_image(sigma: np.ndarray, rois: list[Roi]) -> np.ndarray:
    """(B, 33, 2) sigma in normalised crop units -> image pixels along the image's axes.

    The crop's axes are turned by ``roi.angle``; sigma per crop axis is carried to the image's
    axes as independent scales, ``s_x = side * sqrt((c sx)^2 + (s sy)^2)`` (and the same for y):
    exact for an upright crop, the per-axis spread of the rotated box otherwise."""
    out = np.empty_like(sigma, dtype=np.float32)
    for i, roi in enumerate(rois):
        c, s = abs(np.cos(roi.angle)), abs(np.sin(roi.angle))
        sx, sy = sigma[i, :, 0], sigma[i, :, 1]
        out[i, :, 0] = roi.side * np.hypot(c * sx, s * sy)
        out[i, :, 1] = roi.side * np.hypot(s * sx, c * sy)
    return out


def run_landmarks(model, head, items: list[tuple[np.ndarray, Roi]], *, with_features: bool = False) -> LandmarkBatch:
    """Run the landmark ``model`` (an OnnxModel of :func:`~sensorium.models.zoo.pose_sigma.feature_graph`'s
    graph) on (image, region) pairs, then ``head`` (a :class:`~sensorium.stages.pose.sigma.SigmaHead`, or None)."""
    rois = [roi for _, roi in items]
    batch, affines = crops(items)
    if not len(batch):
        empty = pose.decode(np.zeros((0, 195), np.float32), np.zeros((0, 117), np.float32), [], [])
        return LandmarkBatch(empty, np.zeros(0, np.float32), None if head is None else np.zeros((0, 33, 2), np.float32),
                             np.zeros((0, 195), np.float32), None, [])
    out = model.run({"input_1": batch})
    raw = out[LANDMARKS].astype(np.float32)
    features = None
    sigma_px = None
    if head is not None or with_features:
        features = crop_features(raw, out[POSE_FLAG], out[HEATMAPS], out[POOLED_OUTPUT], np.array([r.side for r in rois]))
    landmarks = raw
    if head is not None:
        mu, sigma = head(features)  # (B, 33, 2) normalised crop units
        landmarks = raw.reshape(len(raw), 39, 5).copy()
        landmarks[:, :pose.NUM_KEYPOINTS, :2] += mu * CROP_SIZE
        landmarks = landmarks.reshape(len(raw), 195)
        sigma_px = sigma_to_image(sigma, rois)
    decoded = pose.decode(landmarks, out[WORLD], rois, affines)
    return LandmarkBatch(decoded, out[POSE_FLAG].reshape(-1).astype(np.float32), sigma_px, raw, features, affines)
