"""MediaPipe's face mesh (face_landmark.tflite, 192x192): crops in, 468 3-D landmarks out.

What MediaPipe's face landmark graph does around the model, reimplemented: the region from a
detection (eye keypoints give the angle, the box times 1.5 the side) or from the previous
frame's landmarks (outer eye corners 33 and 263), the crop scaled to [0, 1], the 1404 outputs
read as (468, 3) crop pixels (z relative to the face centre, in x's units) and projected back,
the presence logit through a sigmoid (MediaPipe drops a face under 0.5 and re-detects).
"""

from __future__ import annotations

import numpy as np

from sensorium.models.arch.mediapipe.roi import Roi, crop, project, roi_from_box, roi_from_landmarks

INPUT_SIZE = 192
NUM_LANDMARKS = 468
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # the subject's sides: 33 is on the image's left in a frontal face
ROI_SCALE = 1.5


def roi_from_detection(box: np.ndarray, keypoints: np.ndarray) -> Roi:
    """The mesh's region from a face detection: box (4,) xyxy and the detector's keypoints (6, 2),
    image pixels (keypoint 0 the right eye, 1 the left eye)."""
    return roi_from_box(box, keypoints[0], keypoints[1], scale=ROI_SCALE)


def next_roi(landmarks: np.ndarray) -> Roi:
    """The region for the next frame from this frame's (468, 3) image-pixel landmarks."""
    return roi_from_landmarks(landmarks, RIGHT_EYE_OUTER, LEFT_EYE_OUTER, scale=ROI_SCALE)


def preprocess(image_rgb: np.ndarray, rois: list[Roi]) -> tuple[np.ndarray, list[np.ndarray]]:
    """((B, 192, 192, 3) float32 in [0, 1], each crop's (2, 3) crop -> image affine) for ``rois`` of one image."""
    patches, affines = [], []
    for roi in rois:
        patch, to_image = crop(image_rgb, roi, INPUT_SIZE)
        patches.append(patch)
        affines.append(to_image)
    batch = np.stack(patches).astype(np.float32) / 255.0 if patches else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.float32)
    return batch, affines


def decode(landmarks: np.ndarray, presence: np.ndarray, affines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Raw outputs (B, 1, 1, 1404) and (B, 1, 1, 1) -> ((B, 468, 3) float32 image pixels, (B,) presence in [0, 1])."""
    if landmarks.shape[0] != len(affines) or landmarks.size != len(affines) * NUM_LANDMARKS * 3:
        raise ValueError(f"expected landmarks ({len(affines)}, 1, 1, {NUM_LANDMARKS * 3}), got {landmarks.shape}")
    pts = landmarks.reshape(len(affines), NUM_LANDMARKS, 3)
    out = np.stack([project(p, a, INPUT_SIZE) for p, a in zip(pts, affines)]) if affines else np.zeros((0, NUM_LANDMARKS, 3), np.float32)
    score = 1.0 / (1.0 + np.exp(-np.clip(presence.reshape(-1).astype(np.float64), -100, 100)))
    return out.astype(np.float32), score.astype(np.float32)
