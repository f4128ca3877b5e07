"""Dense depth of one frame, in the camera its maps are in, and the rectification that
relates that camera to the source's left camera (what a consumer needs to register colour
and poses with the maps, without re-deriving it from the calibration)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, ClassVar

import cv2
import numpy as np

from sensorium.stages.arrays import check_array, decode_array, encode_array
from sensorium.stages.results.items import array_equal, dict_equal, jsonable, unjson
from sensorium.stages.results.registry import register



_MAPS: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_MAPS_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class Rectification:
    """How a stereo depth map's (rectified left) camera relates to the source's left camera.

    R: (3, 3) float64 rotation from the source's left camera frame to the rectified one
    (``X_rect = R @ X_left``). K: (3, 3) float64 intrinsics and D: (k,) float64 distortion of
    the source's left camera, both at the depth map's size. P: (3, 3) float64 intrinsics of the
    rectified camera (the depth's ``K``).
    """

    R: np.ndarray
    K: np.ndarray
    D: np.ndarray
    P: np.ndarray

    def __post_init__(self) -> None:
        for name in ("R", "K", "P"):
            object.__setattr__(self, name, check_array(f"Rectification.{name}", getattr(self, name), shape=(3, 3), dtype=np.float64))
        object.__setattr__(self, "D", check_array("Rectification.D", np.asarray(self.D, np.float64).ravel(), ndim=1, dtype=np.float64))

    @property
    def to_source(self) -> np.ndarray:
        """(4, 4) float64 transform from the rectified camera frame to the source's left one."""
        T = np.eye(4)
        T[:3, :3] = self.R.T
        return T

    def rectify_image(self, image: np.ndarray) -> np.ndarray:
        """A source left-camera image (H, W[, C]) at the depth map's size → the rectified view
        the depth map is in (same shape and dtype; bilinear)."""
        h, w = image.shape[:2]
        key = (self.R.tobytes(), self.K.tobytes(), self.D.tobytes(), self.P.tobytes(), w, h)
        with _MAPS_LOCK:
            maps = _MAPS.get(key)
        if maps is None:  # ~20 ms at VGA: built once per calibration and size
            maps = cv2.initUndistortRectifyMap(self.K, self.D, self.R, self.P, (w, h), cv2.CV_16SC2)
            with _MAPS_LOCK:
                _MAPS[key] = maps
                while len(_MAPS) > 16:
                    _MAPS.popitem(last=False)
        return cv2.remap(image, *maps, cv2.INTER_LINEAR)

    def to_dict(self) -> dict[str, Any]:
        return {name: encode_array(getattr(self, name)) for name in ("R", "K", "D", "P")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Rectification":
        return cls(**{name: decode_array(d[name]) for name in ("R", "K", "D", "P")})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rectification):
            return NotImplemented
        return all(array_equal(getattr(self, n), getattr(other, n)) for n in ("R", "K", "D", "P"))

    __hash__ = None  # type: ignore[assignment]


@register
@dataclass(frozen=True, eq=False)
class Depth:
    """Dense depth for one frame, in the (rectified) left/colour camera.

    depth: (H, W) float32 metres, 0 where unknown. disparity: (H, W) float32 pixels (None for
    RGB-D input), <= 0 where unknown. confidence: (H, W) float32 in [0, 1], 0 where unknown.
    K: (3, 3) float64 intrinsics of the camera the maps are in. points/colors: optional
    down-sampled point cloud, (P, 3) float32 metres in that camera's frame and (P, 3) uint8 RGB.
    rectification: how that camera relates to the source's left camera, for stereo maps that
    were rectified; None when the maps are in the source's camera already (RGB-D, an
    uncalibrated or already ideal pair).
    """

    kind: ClassVar[str] = "depth"
    depth: np.ndarray
    confidence: np.ndarray
    K: np.ndarray
    disparity: np.ndarray | None = None
    points: np.ndarray | None = None
    colors: np.ndarray | None = None
    rectification: Rectification | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        depth = check_array("Depth.depth", self.depth, ndim=2, dtype=np.float32)
        hw = depth.shape
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "confidence", check_array("Depth.confidence", self.confidence, shape=hw, dtype=np.float32))
        object.__setattr__(self, "K", check_array("Depth.K", self.K, shape=(3, 3), dtype=np.float64))
        if self.disparity is not None:
            object.__setattr__(self, "disparity", check_array("Depth.disparity", self.disparity, shape=hw, dtype=np.float32))
        if (self.points is None) != (self.colors is None):
            raise ValueError("Depth: points and colors come together")
        if self.points is not None:
            pts = check_array("Depth.points", self.points, shape=(None, 3), dtype=np.float32)
            cols = check_array("Depth.colors", self.colors, shape=(pts.shape[0], 3), dtype=np.uint8)
            object.__setattr__(self, "points", pts)
            object.__setattr__(self, "colors", cols)
        if self.rectification is not None and not isinstance(self.rectification, Rectification):
            raise ValueError(f"Depth.rectification: expected Rectification or None, got {type(self.rectification).__name__}")
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def valid(self) -> np.ndarray:
        """(H, W) bool: pixels with a depth."""
        return self.depth > 0

    def summary(self) -> dict[str, Any]:
        """Small JSON-safe facts for per-frame logs (the maps themselves go to .npz)."""
        v = self.depth[self.valid]
        return {
            "shape": list(self.depth.shape),
            "valid_fraction": float(self.valid.mean()) if self.depth.size else 0.0,
            "depth_median_m": float(np.median(v)) if v.size else None,
            "depth_min_m": float(v.min()) if v.size else None,
            "depth_max_m": float(v.max()) if v.size else None,
            "points": 0 if self.points is None else int(self.points.shape[0]),
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("depth", "confidence", "K", "disparity", "points", "colors"):
            value = getattr(self, name)
            out[name] = None if value is None else encode_array(value)
        out["rectification"] = None if self.rectification is None else self.rectification.to_dict()
        out["metadata"] = jsonable(self.metadata)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Depth":
        kw = {n: None if d.get(n) is None else decode_array(d[n]) for n in ("depth", "confidence", "K", "disparity", "points", "colors")}
        rect = d.get("rectification")
        return cls(**kw, rectification=None if rect is None else Rectification.from_dict(rect), metadata=unjson(d.get("metadata", {})))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Depth):
            return NotImplemented
        return all(array_equal(getattr(self, n), getattr(other, n)) for n in ("depth", "confidence", "K", "disparity", "points", "colors")) \
            and self.rectification == other.rectification and dict_equal(self.metadata, other.metadata)

    __hash__ = None  # type: ignore[assignment]
