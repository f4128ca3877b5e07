"""The depth stage: dense metric depth from a stereo pair (SGBM) or an RGB-D sensor.

Stereo: rectify with the frame's StereoCalibration (an uncalibrated pair is taken as already
rectified, with ``focal_px``/``baseline_m`` from the config for metric depth), SGBM 3-way,
left-right check, hole filling, depth = f B / d. RGB-D: the sensor's depth, range-gated.
Either way the result is a :class:`~sensorium.stages.results.Depth` in the (rectified)
left/colour camera, optionally with a voxel-down-sampled point cloud.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import cv2
import numpy as np

from sensorium.stages.depth import stereo
from sensorium.stages.base import Stage
from sensorium.stages.config import StageConfig
from sensorium.stages.camera import Intrinsics, StereoCalibration
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Rectification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DepthConfig(StageConfig):
    """Settings of :class:`DepthStage` (frozen; built once at the edge).

    Matching: ``num_disparities`` (multiple of 16; the nearest measurable depth is
    ``f B / num_disparities``), ``block_size`` (odd, 3-7 typical), ``uniqueness_ratio``,
    ``speckle_window``/``speckle_range``, ``use_colour`` (match RGB instead of grey),
    ``full_width`` (also match the left border band), ``downscale`` (match at 1/n
    resolution: ~n^2 faster, coarser depth). ``lr_check``/``max_lr_diff`` (pixels at the
    matching resolution) drop matches that fail the round trip; ``fill_holes`` fills holes
    (with low confidence).
    Depth: kept within [``min_depth_m``, ``max_depth_m``], 0 outside. ``focal_px`` and
    ``baseline_m`` give metric depth for a rectified pair that comes without calibration
    (both None: disparity only). ``sensor_depth_scale``: metres per unit of
    ``frame.sensor_depth`` (1.0 per the Frame contract). ``point_cloud``/``voxel_size_m``:
    also return a down-sampled coloured point cloud.
    """

    num_disparities: int = 64
    block_size: int = 5
    uniqueness_ratio: int = 10
    speckle_window: int = 100
    speckle_range: int = 2
    use_colour: bool = False
    full_width: bool = True
    downscale: int = 1
    lr_check: bool = True
    max_lr_diff: float = 1.0
    fill_holes: bool = True
    min_depth_m: float = 0.1
    max_depth_m: float = 50.0
    focal_px: float | None = None
    baseline_m: float | None = None
    sensor_depth_scale: float = 1.0
    point_cloud: bool = False
    voxel_size_m: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        self.sgbm()  # validates the matcher settings
        if self.downscale not in (1, 2, 4):
            raise ValueError(f"downscale: expected 1, 2 or 4, got {self.downscale}")
        if self.max_lr_diff <= 0:
            raise ValueError(f"max_lr_diff: expected > 0 pixels, got {self.max_lr_diff}")
        if not 0 <= self.min_depth_m < self.max_depth_m:
            raise ValueError(f"depth range: expected 0 <= min_depth_m < max_depth_m, got [{self.min_depth_m}, {self.max_depth_m}]")
        for name in ("focal_px", "baseline_m"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name}: expected a positive number or None, got {value}")
        if self.sensor_depth_scale <= 0:
            raise ValueError(f"sensor_depth_scale: expected > 0, got {self.sensor_depth_scale}")
        if self.voxel_size_m < 0:
            raise ValueError(f"voxel_size_m: expected >= 0 metres, got {self.voxel_size_m}")

    def sgbm(self, downscale: int = 1) -> stereo.SGBMParams:
        """Matcher settings, with the disparity range shrunk for matching at 1/``downscale``."""
        nd = self.num_disparities if downscale == 1 else max(16, -(-self.num_disparities // downscale // 16) * 16)
        return stereo.SGBMParams(
            num_disparities=nd, block_size=self.block_size, uniqueness_ratio=self.uniqueness_ratio,
            speckle_window=self.speckle_window, speckle_range=self.speckle_range,
            use_colour=self.use_colour, full_width=self.full_width,
        )


def _shape(a: np.ndarray | None) -> str:
    return "None" if a is None else str(tuple(a.shape))


class DepthStage(Stage):
    """Dense depth per frame; result: :class:`Depth` under ``frame.results["depth"]``.

    A frame needs a stereo pair (``image`` + ``right``, optional StereoCalibration) or RGB-D
    (``image`` + ``sensor_depth`` + Intrinsics). With both, stereo wins: the sensor depth is
    left for later stages to compare against.
    """

    name: ClassVar[str] = "depth"
    frame_needs: ClassVar[tuple[str, ...]] = ("right", "sensor_depth")  # a stereo pair or RGB-D
    Config: ClassVar[type] = DepthConfig
    config: DepthConfig

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if not hasattr(cv2, "StereoSGBM_create") or not hasattr(cv2, "STEREO_SGBM_MODE_SGBM_3WAY"):
            return False, f"OpenCV {cv2.__version__} lacks StereoSGBM 3-way"
        return True, ""

    def setup(self) -> None:
        if self.config.point_cloud:
            import open3d  # noqa: F401 - fail at setup, not on the first frame

        self._ready = True

    # --- validation ---------------------------------------------------------------------------

    def check(self, frame: Frame) -> None:
        super().check(frame)
        image = frame.image
        h, w = image.shape[:2]
        if frame.right is not None:
            if frame.right.shape != image.shape:
                raise ValueError(f"left image {_shape(image)} and right image {_shape(frame.right)} differ in shape")
            if isinstance(frame.calib, StereoCalibration):
                stereo.scale_calibration(frame.calib, w, h)  # raises on an aspect-ratio mismatch
            elif frame.calib is not None and not isinstance(frame.calib, Intrinsics):
                raise ValueError(f"stereo pair: expected StereoCalibration, Intrinsics or no calib, got {type(frame.calib).__name__}")
            return
        if frame.sensor_depth is not None:
            if frame.sensor_depth.shape != (h, w):
                raise ValueError(f"sensor depth {_shape(frame.sensor_depth)} does not match the image {(h, w)}: expected (H, W) = {(h, w)}")
            if not isinstance(frame.calib, Intrinsics):
                got = "no calib" if frame.calib is None else type(frame.calib).__name__
                raise ValueError(f"RGB-D frame needs Intrinsics to back-project depth, got {got}")
            self._intrinsics(frame.calib, w, h)
            return
        raise ValueError("needs a stereo pair (image + right) or RGB-D (image + sensor_depth + Intrinsics); the frame has only an image")

    @staticmethod
    def _intrinsics(calib: Intrinsics, w: int, h: int) -> Intrinsics:
        if (calib.width, calib.height) == (w, h):
            return calib
        if abs((w / calib.width) / (h / calib.height) - 1) > 0.01:
            raise ValueError(f"intrinsics are for {calib.width}x{calib.height} images, got {w}x{h} (a different aspect ratio)")
        return calib.scaled(w, h)

    # --- compute ------------------------------------------------------------------------------

    def process(self, frames: Sequence[Frame]) -> list[Depth]:
        # SGBM has no batch dimension; each frame is matched on its own (OpenCV threads inside)
        return [self._stereo(f) if f.right is not None else self._rgbd(f) for f in frames]

    def _stereo(self, frame: Frame) -> Depth:
        cfg = self.config
        left, right = frame.image, frame.right
        h, w = left.shape[:2]
        meta: dict[str, Any] = {"source": "stereo"}
        Q: np.ndarray | None = None
        rectification: Rectification | None = None
        if isinstance(frame.calib, StereoCalibration):
            rect = stereo.rectification(frame.calib, (w, h))
            left, right = stereo.remap_pair(left, right, rect)
            Q, K = rect.Q, rect.K
            if not rect.identity:  # the maps are in the rectified left camera: say how it relates to the source's
                src = stereo.scale_calibration(frame.calib, w, h)
                rectification = Rectification(R=rect.R, K=src.K1, D=src.D1, P=rect.K)
            meta["baseline_m"] = float(1.0 / Q[3, 2])
        else:
            # uncalibrated: the pair is taken as rectified; metric depth needs f and B
            K = self._intrinsics(frame.calib, w, h).K.copy() if isinstance(frame.calib, Intrinsics) else None
            f = cfg.focal_px if cfg.focal_px is not None else (None if K is None else float(K[0, 0]))
            if K is None:
                cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
                fk = np.nan if f is None else f
                K = np.array([[fk, 0, cx], [0, fk, cy], [0, 0, 1]], dtype=np.float64)
            if f is not None and cfg.baseline_m is not None:
                Q = stereo.ideal_q(f, K[0, 2], K[1, 2], cfg.baseline_m)
                meta["baseline_m"] = cfg.baseline_m
            else:
                missing = [n for n, v in (("focal_px", f), ("baseline_m", cfg.baseline_m)) if v is None]
                meta["depth_unavailable"] = f"uncalibrated pair and no {' or '.join(missing)} configured: disparity only"

        maps = self._match(left, right)
        disparity, confidence = maps.disparity, maps.confidence
        if Q is not None:
            depth = stereo.disparity_to_depth(disparity, Q)
            meta["focal_px"] = float(Q[2, 3])
            meta["min_measurable_depth_m"] = float(Q[2, 3] / (Q[3, 2] * cfg.num_disparities))
        else:
            depth = np.zeros((h, w), dtype=np.float32)
        out_of_range = (depth > 0) & ((depth < cfg.min_depth_m) | (depth > cfg.max_depth_m))
        depth[out_of_range] = 0
        if Q is not None:
            confidence = np.where(depth > 0, confidence, 0).astype(np.float32)
        meta.update(
            num_disparities=cfg.num_disparities,
            matched_fraction=float(maps.matched.mean()),
            filled_fraction=float(maps.filled.mean()),
            out_of_range_fraction=float(out_of_range.mean()),
        )
        return self._result(depth, confidence, K, disparity, left, meta, rectification)

    def _match(self, left: np.ndarray, right: np.ndarray) -> stereo.StereoMaps:
        cfg = self.config
        n = cfg.downscale
        if n == 1:
            return stereo.match(left, right, cfg.sgbm(), lr_check=cfg.lr_check, max_lr_diff=cfg.max_lr_diff, fill=cfg.fill_holes)
        h, w = left.shape[:2]
        small = (max(w // n, 1), max(h // n, 1))
        ls, rs = (cv2.resize(img, small, interpolation=cv2.INTER_AREA) for img in (left, right))
        # the LR tolerance stays in matching pixels: sub-pixel noise does not shrink with the image
        m = stereo.match(ls, rs, cfg.sgbm(n), lr_check=cfg.lr_check, max_lr_diff=cfg.max_lr_diff, fill=cfg.fill_holes)

        def up(a: np.ndarray) -> np.ndarray:
            # nearest keeps "unknown" (<= 0) pixels from bleeding into their neighbours
            return cv2.resize(a.astype(np.uint8) if a.dtype == bool else a, (w, h), interpolation=cv2.INTER_NEAREST)

        disp = up(m.disparity) * np.float32(w / small[0])
        return stereo.StereoMaps(disp.astype(np.float32), up(m.confidence), up(m.matched).astype(bool), up(m.filled).astype(bool))

    def _rgbd(self, frame: Frame) -> Depth:
        cfg = self.config
        h, w = frame.image.shape[:2]
        K = self._intrinsics(frame.calib, w, h).K.copy()
        depth = frame.sensor_depth.astype(np.float32) * np.float32(cfg.sensor_depth_scale)
        known = np.isfinite(depth) & (depth > 0)
        in_range = known & (depth >= cfg.min_depth_m) & (depth <= cfg.max_depth_m)
        depth = np.where(in_range, depth, 0).astype(np.float32)
        # a sensor reading is a measurement: full confidence where it exists
        confidence = in_range.astype(np.float32)
        meta = {"source": "rgbd", "valid_fraction": float(in_range.mean()), "out_of_range_fraction": float((known & ~in_range).mean())}
        return self._result(depth, confidence, K, None, frame.image, meta)

    def _result(self, depth: np.ndarray, confidence: np.ndarray, K: np.ndarray, disparity: np.ndarray | None, rgb: np.ndarray,
                meta: dict[str, Any], rectification: Rectification | None = None) -> Depth:
        points = colors = None
        if self.config.point_cloud:
            if (depth > 0).any():
                from sensorium.stages.depth.pointcloud import depth_to_points

                points, colors = depth_to_points(depth, K, rgb, voxel_size=self.config.voxel_size_m, max_depth=self.config.max_depth_m)
            else:  # asked for a cloud, none to give: empty, not missing
                points, colors = np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8)
        return Depth(depth=depth, confidence=confidence, K=K, disparity=disparity, points=points, colors=colors,
                     rectification=rectification, metadata=meta)
