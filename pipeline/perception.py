"""Perception of single frames in this process: the stages a request names, built once per
(stage, options) and reused, run in the order given on one frame.

This is what the REST service's ``/v1/perceive`` runs, in the service's process (``serve
--local``) or inside each stage's Ray Serve replica (``sensorium.pipeline.serve``): the same
stage classes as ``run`` and ``batch``, so the same image gives the same results in all three.
Options are checked (stage names known, every option coerced by its config's annotations)
before any stage runs.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from sensorium.stages.base import Stage, build_config, check_chain, get_stage_class, refuse_ordered
from sensorium.stages.camera import Intrinsics, StereoCalibration
from sensorium.stages.frame import Frame


def request_configs(stages: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> list[tuple[str, Any]]:
    """The (name, frozen config) of each requested stage; raises ValueError naming an unknown
    stage, a stage named twice, options for a stage not requested, or an option that does not parse."""
    options = dict(options or {})
    if not stages:
        raise ValueError("stages: name at least one stage")
    if len(set(stages)) != len(stages):
        raise ValueError(f"stages: each stage once, got {list(stages)}")
    stray = sorted(set(options) - set(stages))
    if stray:
        raise ValueError(f"options for stage(s) {', '.join(stray)}, which the request does not run ({', '.join(stages)})")
    refuse_ordered_stages(stages)
    configs = [(name, build_config(name, dict(options.get(name) or {}))) for name in stages]
    check_chain(configs)
    return configs


def refuse_ordered_stages(stages: Sequence[str]) -> None:
    """ConfigError naming an unknown stage, or an ordered one (tracking, zone counts): a request
    is one independent image, with no frames before or after it to keep state across."""
    refuse_ordered({name: get_stage_class(name) for name in stages}, "each request is one independent image; "
                   "run it on a stream (/v1/streams or `sensorium run`)")


def config_key(name: str, config: Any) -> tuple[str, str]:
    """A hashable key of (stage, config): equal options give equal keys."""
    plain = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config
    return name, json.dumps(plain, sort_keys=True, default=str)


@dataclass(frozen=True)
class FrameInputs:
    """What a request brings for one frame. image: (H, W, 3) uint8 RGB (the left image of a
    stereo pair, the colour image of RGB-D); right: (H, W, 3) uint8 RGB; sensor_depth: (H, W)
    float32 metres registered to image (0 unknown); calib: StereoCalibration for a pair,
    Intrinsics for RGB-D. Validated when the frame is built."""

    image: np.ndarray
    right: np.ndarray | None = None
    sensor_depth: np.ndarray | None = None
    calib: StereoCalibration | Intrinsics | None = None

    def frame(self, source_id: str = "request", meta: Mapping[str, Any] | None = None) -> Frame:
        if self.right is not None and self.right.shape != self.image.shape:
            raise ValueError(f"right: expected the left image's shape {self.image.shape}, got {self.right.shape}")
        if self.sensor_depth is not None and self.sensor_depth.shape != self.image.shape[:2]:
            raise ValueError(f"depth: expected the colour image's size {self.image.shape[1]}x{self.image.shape[0]}, "
                             f"got {self.sensor_depth.shape[1]}x{self.sensor_depth.shape[0]}")
        return Frame(source_id, 0, image=self.image, right=self.right, sensor_depth=self.sensor_depth, calib=self.calib, meta=dict(meta or {}))


class Perception:
    """``perceive(image, stages, options) -> Frame`` with each stage's result or error on it.

    max_stages: distinct (stage, options) instances kept loaded; the least recently used one is
    dropped beyond it (each holds a model)."""

    def __init__(self, max_stages: int = 8) -> None:
        self.max_stages = max_stages
        self._stages: OrderedDict[tuple[str, str], tuple[Stage, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()

    def configs(self, stages: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> list[tuple[str, Any]]:
        """See :func:`request_configs`."""
        return request_configs(stages, options)

    def stage(self, name: str, config: Any) -> tuple[Stage, threading.Lock]:
        """The loaded stage for (name, config) and the lock its callers hold while calling it."""
        key = config_key(name, config)
        with self._lock:
            if key in self._stages:
                self._stages.move_to_end(key)
                return self._stages[key]
        stage = get_stage_class(name)(config)
        stage.setup()  # outside the lock: loading one model does not hold up requests for others
        with self._lock:
            entry = self._stages.setdefault(key, (stage, threading.Lock()))
            while len(self._stages) > self.max_stages:
                self._stages.popitem(last=False)
            return entry

    def loaded(self) -> list[tuple[str, str]]:
        """The (stage, options) keys loaded now, least recently used first."""
        with self._lock:
            return list(self._stages)

    def perceive(self, image: np.ndarray | FrameInputs, stages: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None,
                 *, source_id: str = "request", meta: Mapping[str, Any] | None = None) -> Frame:
        """Run ``stages`` in order on one (H, W, 3) uint8 RGB image (or a frame's inputs)."""
        configs = self.configs(stages, options)
        inputs = image if isinstance(image, FrameInputs) else FrameInputs(image)
        frame = inputs.frame(source_id, meta)
        for name, config in configs:
            stage, lock = self.stage(name, config)
            with lock:  # a stage instance serves one call at a time
                stage([frame])
        return frame


def decode_depth(data: bytes, scale: float, shape: tuple[int, int], *, max_pixels: int | None = None, name: str = "depth") -> np.ndarray:
    """A 16-bit single-channel PNG (raw sensor units) → (H, W) float32 metres (raw / ``scale``;
    0 unknown) registered to a colour image of ``shape`` (H, W). Its size is read from the
    header before decoding (the pipeline's one decoder); raises ImageError (a ValueError)."""
    from sensorium.pipeline.io.images import ImageError, _decode  # the one decoder; a public depth-from-bytes belongs there
    import cv2

    raw = _decode(data, cv2.IMREAD_UNCHANGED, name, max_pixels, ("PNG",))
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ImageError(name, f"expected a single-channel 16-bit depth PNG, got {raw.shape} {raw.dtype}")
    if raw.shape != tuple(shape):
        raise ImageError(name, f"depth is {raw.shape[1]}x{raw.shape[0]} but the colour image is {shape[1]}x{shape[0]}")
    return raw.astype(np.float32) / np.float32(scale)
