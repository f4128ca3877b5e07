"""Camera models: pinhole intrinsics and stereo calibration (OpenCV conventions).

Plain values that travel with a frame; reading them from YAML/JSON files happens in
``sensorium.pipeline.io.calibration``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sensorium.stages.arrays import check_array


@dataclass(frozen=True, eq=False)
class Intrinsics:
    """Pinhole camera: K (3, 3) float64, image size (width, height) in pixels."""

    K: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "K", check_array("Intrinsics.K", self.K, shape=(3, 3), dtype=np.float64))
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"Intrinsics: expected positive image size, got {self.width}x{self.height}")

    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    def scaled(self, width: int, height: int) -> "Intrinsics":
        """The same camera at another resolution (K scaled per axis)."""
        sx, sy = width / self.width, height / self.height
        K = self.K.copy()
        K[0] *= sx
        K[1] *= sy
        return Intrinsics(K, width, height)

    def to_dict(self) -> dict[str, Any]:
        return {"K": self.K.tolist(), "width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Intrinsics":
        return cls(np.asarray(d["K"], dtype=np.float64), int(d["width"]), int(d["height"]))


@dataclass(frozen=True, eq=False)
class StereoCalibration:
    """A calibrated stereo pair in OpenCV's convention (``cv2.stereoCalibrate`` output).

    K1, K2: (3, 3) intrinsics; D1, D2: distortion coefficients (k1, k2, p1, p2[, k3...]);
    R (3, 3), T (3,): pose of the right camera relative to the left, so that
    ``X_right = R @ X_left + T``; T in metres (the unit of T is the unit of depth).
    width, height: image size the calibration was made at.
    """

    K1: np.ndarray
    D1: np.ndarray
    K2: np.ndarray
    D2: np.ndarray
    R: np.ndarray
    T: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("K1", "K2", "R"):
            object.__setattr__(self, name, check_array(f"StereoCalibration.{name}", getattr(self, name), shape=(3, 3), dtype=np.float64))
        for name in ("D1", "D2"):
            d = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1)
            if d.size not in (0, 4, 5, 8, 12, 14):
                raise ValueError(f"StereoCalibration.{name}: expected 4, 5, 8, 12 or 14 distortion coefficients, got {d.size}")
            object.__setattr__(self, name, d)
        T = np.asarray(self.T, dtype=np.float64).reshape(-1)
        if T.size != 3:
            raise ValueError(f"StereoCalibration.T: expected 3 values, got {T.size}")
        object.__setattr__(self, "T", T)
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"StereoCalibration: expected positive image size, got {self.width}x{self.height}")

    @property
    def baseline(self) -> float:
        """Distance between the optical centres, in the unit of T (metres)."""
        return float(np.linalg.norm(self.T))

    def to_dict(self) -> dict[str, Any]:
        return {
            "K1": self.K1.tolist(), "D1": self.D1.tolist(), "K2": self.K2.tolist(), "D2": self.D2.tolist(),
            "R": self.R.tolist(), "T": self.T.tolist(), "width": self.width, "height": self.height,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StereoCalibration":
        missing = [k for k in ("K1", "D1", "K2", "D2", "R", "T") if k not in d]
        if missing:
            raise ValueError(f"stereo calibration: missing {', '.join(missing)}")
        size = d.get("image_size") or [d.get("width"), d.get("height")]
        if size[0] is None or size[1] is None:
            raise ValueError("stereo calibration: missing image size (width/height or image_size)")
        return cls(
            np.asarray(d["K1"], float), np.asarray(d["D1"], float), np.asarray(d["K2"], float), np.asarray(d["D2"], float),
            np.asarray(d["R"], float), np.asarray(d["T"], float), int(size[0]), int(size[1]),
        )

    @classmethod
    def rectified(cls, fx: float, cx: float, cy: float, baseline: float, width: int, height: int) -> "StereoCalibration":
        """An ideal, already rectified pair: same K, no distortion, right camera ``baseline`` to the right."""
        K = np.array([[fx, 0, cx], [0, fx, cy], [0, 0, 1]], dtype=np.float64)
        return cls(K, np.zeros(5), K.copy(), np.zeros(5), np.eye(3), np.array([-baseline, 0.0, 0.0]), width, height)
