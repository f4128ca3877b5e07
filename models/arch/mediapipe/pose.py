"""MediaPipe's pose detector (224x224) and full pose landmark model (256x256), around the graphs.

Reimplemented from what MediaPipe's pose graphs configure: the detector is an SSD like the face
detector (anchors at strides 8/16/32/32/32: 2254; 12 values: box, then 4 keypoints: hip centre,
a point giving the full body's size and rotation, shoulder centre, the upper body's); a person's
region is centred on the hip centre with side 2.5x the distance to the size point, turned so
hips -> head points up the crop (``target_angle`` pi/2). The landmark model gives 39 points
(33 body keypoints, then 2 alignment points for the next frame's region, 4 more) as x, y, z,
visibility logit, presence logit in crop pixels, a pose-presence probability, and 39 world
points in metres, hip-centred, in the crop's orientation.
"""

from __future__ import annotations

import numpy as np

from sensorium.models.arch.mediapipe.face_detection import SsdAnchors
from sensorium.models.arch.mediapipe.roi import Roi, project, roi_from_alignment

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_KEYPOINTS = 33
NUM_LANDMARKS = 39  # 33 keypoints + 6 auxiliary (33, 34: the next region's alignment points)
POSE_ANCHORS = SsdAnchors(input_size=(DETECTOR_SIZE, DETECTOR_SIZE), strides=(8, 16, 32, 32, 32))
ROI_SCALE = 1.25
KEYPOINT_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # the subject's sides


def roi_from_detection(keypoints: np.ndarray) -> Roi:
    """A person's region from the detector's (4, 2) image-pixel keypoints (0 hip centre, 1 size point)."""
    return roi_from_alignment(keypoints[0], keypoints[1], scale=ROI_SCALE, target_angle=np.pi / 2)


def next_roi(landmarks: np.ndarray) -> Roi:
    """The next frame's region from this frame's (39, 3+) image-pixel landmarks (alignment points 33, 34)."""
    return roi_from_alignment(landmarks[33, :2], landmarks[34, :2], scale=ROI_SCALE, target_angle=np.pi / 2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(x.astype(np.float64), -100, 100)))).astype(np.float32)


def decode(landmarks: np.ndarray, world: np.ndarray, rois: list[Roi], affines: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Raw (B, 195) landmarks and (B, 117) world points -> per person, image and camera-free results.

    Returns ``keypoints`` (B, 33, 3) image pixels (z: depth relative to the hips, in x's units),
    ``visibility`` and ``presence`` (B, 33) in [0, 1], ``world`` (B, 33, 3) metres, hip-centred,
    x right and y down in the image's orientation, and ``aux`` (B, 6, 3) the auxiliary points
    in image pixels (33, 34 make the next region).
    """
    n = len(affines)
    if landmarks.shape != (n, NUM_LANDMARKS * 5) or world.shape != (n, NUM_LANDMARKS * 3) or len(rois) != n:
        raise ValueError(f"expected landmarks ({n}, {NUM_LANDMARKS * 5}) and world ({n}, {NUM_LANDMARKS * 3}) for "
                         f"{n} regions, got {landmarks.shape}, {world.shape} and {len(rois)} regions")
    raw = landmarks.reshape(n, NUM_LANDMARKS, 5)
    pts = np.stack([project(r[:, :3], a, LANDMARK_SIZE) for r, a in zip(raw, affines)]) if n else np.zeros((0, NUM_LANDMARKS, 3), np.float32)
    w = world.reshape(n, NUM_LANDMARKS, 3).astype(np.float32)
    for i, roi in enumerate(rois):  # the crop was turned by roi.angle: turn the world points back
        c, s = np.cos(roi.angle), np.sin(roi.angle)
        w[i, :, :2] = w[i, :, :2] @ np.array([[c, s], [-s, c]], np.float32)
    return {"keypoints": pts[:, :NUM_KEYPOINTS], "visibility": _sigmoid(raw[:, :NUM_KEYPOINTS, 3]),
            "presence": _sigmoid(raw[:, :NUM_KEYPOINTS, 4]), "world": w[:, :NUM_KEYPOINTS], "aux": pts[:, NUM_KEYPOINTS:]}
