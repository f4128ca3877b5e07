"""The frame: one capture moving source → stages → sinks, carrying every stage's result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorium.stages.arrays import check_array, decode_array, encode_array
from sensorium.stages.camera import Intrinsics, StereoCalibration
from sensorium.stages.results import result_from_dict


def check_image(name: str, image: Any) -> np.ndarray:
    """Validate an RGB image: (H, W, 3) uint8 with H, W >= 1."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name}: expected (H, W, 3) uint8 RGB image, got {arr.shape} {arr.dtype}")
    return arr


@dataclass(eq=False)
class Frame:
    """One capture from one source.

    image: (H, W, 3) uint8 RGB (the left image of a stereo pair, the colour image of RGB-D);
    None when the source could not decode it (``errors["source"]`` says why).
    right: (H, W, 3) uint8 RGB right image of a stereo pair.
    sensor_depth: (H, W) float32 metres from an RGB-D sensor, 0 where unknown, registered to ``image``.
    calib: StereoCalibration for stereo input, Intrinsics for RGB-D/mono input.
    pose: (4, 4) float64 camera-to-world pose when the source knows it (ground truth, a trajectory file).
    timestamp: capture time, seconds since the epoch.
    results: stage name → that stage's result container; errors: stage (or "source") → message;
    timings: stage → seconds spent on this frame; meta: source facts (path, ground truth, ...).
    """

    source_id: str
    seq: int
    timestamp: float = field(default_factory=time.time)
    image: np.ndarray | None = None
    right: np.ndarray | None = None
    sensor_depth: np.ndarray | None = None
    calib: StereoCalibration | Intrinsics | None = None
    pose: np.ndarray | None = None
    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.image is not None:
            self.image = check_image(f"frame {self.key}: image", self.image)
        if self.right is not None:
            self.right = check_image(f"frame {self.key}: right image", self.right)
        if self.sensor_depth is not None:
            self.sensor_depth = check_array(f"frame {self.key}: sensor depth", self.sensor_depth, ndim=2, dtype=np.float32)
        if self.pose is not None:
            self.pose = check_array(f"frame {self.key}: pose", self.pose, shape=(4, 4), dtype=np.float64)

    @property
    def key(self) -> str:
        """``source_id#seq``: names the item in every error message."""
        return f"{self.source_id}#{self.seq}"

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self, *, include_inputs: bool = False) -> dict[str, Any]:
        """JSON-safe dict. Input arrays (images, sensor depth) only with ``include_inputs``."""
        out: dict[str, Any] = {
            "source_id": self.source_id,
            "seq": self.seq,
            "timestamp": self.timestamp,
            "image_shape": None if self.image is None else list(self.image.shape),
            "results": {name: r.to_dict() for name, r in self.results.items()},
            "errors": dict(self.errors),
            "timings": dict(self.timings),
            "meta": _plain(self.meta),
        }
        if self.calib is not None:
            out["calib"] = {"type": type(self.calib).__name__, **self.calib.to_dict()}
        if self.pose is not None:
            out["pose"] = self.pose.tolist()
        if include_inputs:
            for name in ("image", "right", "sensor_depth"):
                value = getattr(self, name)
                out[name] = None if value is None else encode_array(value)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Frame":
        calib = None
        if d.get("calib"):
            c = dict(d["calib"])
            kind = c.pop("type")
            calib = StereoCalibration.from_dict(c) if kind == "StereoCalibration" else Intrinsics.from_dict(c)
        arrays = {n: decode_array(d[n]) for n in ("image", "right", "sensor_depth") if d.get(n) is not None}
        return cls(
            source_id=d["source_id"], seq=int(d["seq"]), timestamp=float(d["timestamp"]),
            calib=calib, pose=None if d.get("pose") is None else np.asarray(d["pose"], dtype=np.float64),
            results={k: result_from_dict(v) for k, v in d.get("results", {}).items()},
            errors=dict(d.get("errors", {})), timings=dict(d.get("timings", {})), meta=dict(d.get("meta", {})),
            **arrays,
        )


def _plain(x: Any) -> Any:
    """Meta values as JSON: arrays become lists, other objects their repr."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return repr(x)
