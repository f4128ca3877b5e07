"""Face quality from what the detector already gives: size, sharpness and a pose proxy.

Recognition degrades on small, blurred and turned faces, and an enrolment photo of such a
face poisons every later match, so each face gets three measures and one flag:

- ``size``: the box's shorter side in pixels of the original image;
- ``blur``: variance of the Laplacian of the aligned grey chip (at the chip's fixed size,
  so it compares across faces; lower is blurrier);
- ``yaw``/``roll``: from the landmarks. yaw is the nose tip's horizontal offset from the
  eyes' midpoint, divided by the eye distance (0 frontal, about ±0.5 at a half profile);
  roll is the eye line's angle in degrees.

``quality`` in [0, 1] is the product of three ramps, so any one bad measure pulls it down.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds below which (or beyond which, for yaw) a face is ``low_quality``."""

    min_size: float = 40.0
    min_blur: float = 25.0
    max_yaw: float = 0.45

    def __post_init__(self) -> None:
        if self.min_size < 0 or self.min_blur < 0 or not 0 < self.max_yaw <= 1.5:
            raise ValueError(f"expected min_size >= 0, min_blur >= 0, 0 < max_yaw <= 1.5; got {self}")


@dataclass(frozen=True)
class FaceQuality:
    """Per-face measures, each (N,) float32, and the (N,) bool flag."""

    size: np.ndarray
    blur: np.ndarray
    yaw: np.ndarray
    roll: np.ndarray
    quality: np.ndarray
    low_quality: np.ndarray


def pose_proxy(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 5, 2) landmarks → (yaw proxy (N,), roll degrees (N,)), both float32."""
    lm = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
    eyes = lm[:, 1] - lm[:, 0]
    dist = np.maximum(np.linalg.norm(eyes, axis=1), 1e-6)
    mid = (lm[:, 0] + lm[:, 1]) / 2
    # nose offset along the eye line, so a rolled head is not read as turned
    yaw = ((lm[:, 2] - mid) * eyes).sum(1) / dist**2
    roll = np.degrees(np.arctan2(eyes[:, 1], eyes[:, 0]))
    return yaw.astype(np.float32), roll.astype(np.float32)


def laplacian_variance(chips: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 chips → (N,) float32 variance of the Laplacian of each grey chip."""
    out = np.zeros(len(chips), np.float32)
    for i, chip in enumerate(chips):
        grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
        out[i] = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    return out


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / max(hi - lo, 1e-9), 0.0, 1.0)


def assess(boxes: np.ndarray, landmarks: np.ndarray, chips: np.ndarray, config: QualityConfig = QualityConfig()) -> FaceQuality:
    """Quality of N faces: boxes (N, 4) xyxy pixels, landmarks (N, 5, 2), aligned chips (N, S, S, 3)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    size = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]).astype(np.float32)
    blur = laplacian_variance(chips)
    yaw, roll = pose_proxy(landmarks)
    c = config
    quality = (_ramp(size, c.min_size * 0.5, c.min_size * 2) * _ramp(blur, c.min_blur * 0.5, c.min_blur * 4)
               * _ramp(-np.abs(yaw), -c.max_yaw * 1.5, -c.max_yaw * 0.3)).astype(np.float32)
    low = (size < c.min_size) | (blur < c.min_blur) | (np.abs(yaw) > c.max_yaw)
    return FaceQuality(size, blur, yaw, roll, quality, low)
