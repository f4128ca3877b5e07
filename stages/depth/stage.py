"""The depth stage: dense metric depth from a stereo pair (SGBM) or an RGB-D sensor.

Stereo: rectify with the frame's StereoCalibration (an uncalibrated pair is taken as already
rectified, with ``focal_px``/``baseline_m`` from the config for metric depth), SGBM 3-way,
left-right check, hole filling, depth = f B / d. RGB-D: the sensor's depth, range-gated.
Either way the result is a :class:`~sensorium.stages.results.Depth` in the (rectified)
left/colour camera, optionally with a voxel-down-sampled point cloud.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Sequence

import cv2
import numpy as np

from sensorium.stages.depth import range as disparity_range, stereo
from sensorium.stages.depth.cross_check import cross_check
from sensorium.stages.depth.occlusion import drop_occluded
from sensorium.stages.depth.planes import plane_fill
from sensorium.stages.depth.range import DisparityRange, RangeTracker
from sensorium.stages.depth.subpixel import refine_subpixel
from sensorium.stages.base import Stage
from sensorium.stages.config import StageConfig
from sensorium.stages.camera import Intrinsics, StereoCalibration
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Rectification

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    """What a ``DepthConfig.preset`` chooses: the matching scales, and the dense-accuracy steps
    it runs unless an option says otherwise (``None`` in DepthConfig)."""

    match_scale: int  # least downscale for matching
    coarse_scale: int  # the range pass's downscale
    lr_scale: Literal["full", "half_width", "half"]
    periodic_guard: bool
    cross_check: bool
    fill_planes: bool
    drop_occluded: bool


#: ``accurate``, the default, reaches #15's dense bar (docs/benchmarks.md, seventh and eighth
#: rounds); ``balanced`` is the previous default, ``fast`` a camera-rate budget (docs/depth.md
#: gives each one's accuracy and cost)
PRESETS: dict[str, Preset] = {
    "accurate": Preset(1, disparity_range.COARSE_SCALE, "full", periodic_guard=True, cross_check=True, fill_planes=True, drop_occluded=True),
    "balanced": Preset(1, disparity_range.COARSE_SCALE, "half", periodic_guard=False, cross_check=False, fill_planes=False, drop_occluded=False),
    "fast": Preset(2, 8, "half", periodic_guard=False, cross_check=False, fill_planes=False, drop_occluded=False),
}
#: sources whose range and warnings a stage remembers (least recently seen forgotten first)
MAX_SOURCES = 256


@dataclass(frozen=True)
class DepthConfig(StageConfig):
    """Settings of :class:`DepthStage` (frozen; built once at the edge). docs/depth.md says what
    each step costs and buys, with numbers (docs/benchmarks.md has the rounds behind them).

    ``preset``: ``accurate`` (the default) reaches #15's dense bar with no range given: plain SGBM
    3-way's EPE and bad-2 with the true range, at >= 95% coverage. ``balanced`` (the previous
    default) and ``fast`` (match at half size: a camera-rate budget on 2 cores) trade accuracy
    for time. A preset only chooses the steps left None below (:class:`Preset`).
    Range: by default (``num_disparities=0``) a coarse pass finds the scene's disparities and
    the match searches just those, with hysteresis per source on video (range.py);
    ``disparity_range="metric"`` takes it from [``min_depth_m``, ``max_depth_m``] through the
    calibration's f B; an explicit ``num_disparities`` (multiple of 16, from ``min_disparity``)
    wins over both. ``max_disparity`` caps the automatic range (full-resolution pixels);
    ``range_shrink``: share of the gap by which the range narrows per frame;
    ``saturation_warning``: share of the image nearer than the range can see above which the
    result says so (``metadata["saturated"]``) and the stage warns once per source.
    Matching: SGBM 3-way's ``block_size`` (3 measured best), ``uniqueness_ratio``,
    ``speckle_window``/``speckle_range``, ``use_colour``, ``full_width`` (also match the left
    border band), ``downscale`` (match at 1/n size; a range wider than ``full_res_disparities``
    is matched at half size all the same).
    Checks: ``lr_check``/``max_lr_diff`` (matching pixels) drop matches that fail the round trip,
    the right view matched at ``lr_scale``; ``periodic_guard`` keeps #18's periodic textures from
    passing the full-size round trip (periodic.py); ``cross_check`` matches rank-transformed
    images too and cuts the confidence where the two disagree (cross_check.py).
    Holes: ``fill_holes`` (low confidence) background-first along scan lines, ``fill_filter``
    ``none``/``guided``/``wls`` after it; ``keep_rejected``: a pixel the LR check rejected keeps
    SGBM's value rather than a neighbour's; ``fill_planes``: a filled pixel takes its colour
    segment's plane where one is well supported (planes.py); ``drop_occluded`` (needs
    ``fill_holes``): make unknown what breaks uniqueness along the row by more than
    ``occlusion_margin`` px, unless the cross-check confirms it (occlusion.py).
    ``subpixel_refine``: refit a match made at reduced size by ``preset=fast`` or ``downscale``
    at full size (subpixel.py).
    Depth: kept within [``min_depth_m``, ``max_depth_m``], 0 outside. ``focal_px`` and
    ``baseline_m`` give metric depth for a rectified pair that comes without calibration
    (both None: disparity only). ``sensor_depth_scale``: metres per unit of
    ``frame.sensor_depth``. ``point_cloud``/``voxel_size_m``: also a down-sampled coloured cloud.
    """

    preset: Literal["accurate", "balanced", "fast"] = "accurate"
    num_disparities: int = 0
    min_disparity: int = 0
    disparity_range: Literal["auto", "metric"] = "auto"
    max_disparity: int = 256
    range_shrink: float = 0.1
    saturation_warning: float = 0.05
    full_res_disparities: int = 160
    block_size: int = 3
    uniqueness_ratio: int = 10
    speckle_window: int = 100
    speckle_range: int = 2
    use_colour: bool = False
    full_width: bool = True
    downscale: int = 1
    lr_check: bool = True
    lr_scale: Literal["full", "half_width", "half"] | None = None
    periodic_guard: bool | None = None
    max_lr_diff: float = 1.0
    fill_holes: bool = True
    fill_filter: Literal["none", "guided", "wls"] = "none"
    fill_planes: bool | None = None
    keep_rejected: bool = True
    cross_check: bool | None = None
    subpixel_refine: bool = True
    drop_occluded: bool | None = None
    occlusion_margin: float = 4.0
    min_depth_m: float = 0.1
    max_depth_m: float = 50.0
    focal_px: float | None = None
    baseline_m: float | None = None
    sensor_depth_scale: float = 1.0
    point_cloud: bool = False
    voxel_size_m: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_disparities:
            self.sgbm(DisparityRange(self.min_disparity, self.num_disparities, "explicit"))  # validates
        elif self.num_disparities < 0:
            raise ValueError(f"num_disparities: expected a positive multiple of 16 or 0 (automatic), got {self.num_disparities}")
        else:
            self.sgbm(DisparityRange(0, 16, "auto"))
        if self.min_disparity < 0:
            raise ValueError(f"min_disparity: expected >= 0 pixels, got {self.min_disparity}")
        if self.min_disparity and not self.num_disparities:
            raise ValueError(f"min_disparity={self.min_disparity} needs num_disparities too (an explicit range); "
                             "without it the range is found automatically")
        if self.max_disparity < 16 or self.max_disparity % 16:
            raise ValueError(f"max_disparity: expected a multiple of 16 >= 16, got {self.max_disparity}")
        if not 0 < self.range_shrink <= 1 or not 0 < self.saturation_warning <= 1:
            raise ValueError(f"range_shrink and saturation_warning: expected fractions in (0, 1], got {self.range_shrink}, {self.saturation_warning}")
        if self.downscale not in (1, 2, 4):
            raise ValueError(f"downscale: expected 1, 2 or 4, got {self.downscale}")
        if self.step("lr_scale") not in stereo.LR_SCALES:
            raise ValueError(f"lr_scale: expected one of {', '.join(stereo.LR_SCALES)}, got {self.lr_scale!r}")
        if self.occlusion_margin < 0:
            raise ValueError(f"occlusion_margin: expected >= 0 pixels, got {self.occlusion_margin}")
        if self.drop_occluded and not self.fill_holes:  # asked for explicitly (None: off without filling)
            raise ValueError("drop_occluded: needs fill_holes=true (it judges the filled output), got fill_holes=false")
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

    def step(self, name: str) -> Any:
        """A dense-accuracy step's setting: the option's, or where it is None the preset's; the steps that judge the filled output are off without filling. Resolved
        here rather than stored, so the config's options stay what the user set."""
        value = getattr(self, name)
        if value is not None:
            return value
        if name in ("drop_occluded", "fill_planes") and not self.fill_holes:
            return False
        return getattr(PRESETS[self.preset], name)

    def sgbm(self, rng: DisparityRange, downscale: int = 1) -> stereo.SGBMParams:
        """Matcher settings for ``rng`` (full-resolution pixels), shrunk for matching at 1/``downscale``."""
        lo = rng.min_disparity // downscale
        hi = -(-rng.max_disparity // downscale)
        nd = max(16, -(-(hi - lo) // 16) * 16)
        return stereo.SGBMParams(
            num_disparities=nd, min_disparity=lo, block_size=self.block_size, uniqueness_ratio=self.uniqueness_ratio,
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

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        # per source: the automatic range's hysteresis, and which warnings were given once;
        # bounded, since a server sees a new source id per request
        self._trackers: OrderedDict[str, RangeTracker] = OrderedDict()
        self._warned: OrderedDict[tuple[str, str], None] = OrderedDict()

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

        grey_l, grey_r = stereo.to_grey(left), stereo.to_grey(right)
        chosen = self._choose_range(frame.source_id, grey_l, grey_r, Q)
        if chosen is None:
            return self._no_texture(frame.source_id, K, left, meta, rectification)
        rng, saturated = chosen
        meta.update(min_disparity=rng.min_disparity, num_disparities=rng.num_disparities, range_method=rng.method,
                    saturated_fraction=saturated, saturated=saturated >= cfg.saturation_warning, match_scale=self._match_scale(rng))
        if meta["saturated"]:
            self._warn_once(frame.source_id, "saturated", "%s: %.0f%% of the image is nearer than the %s disparity range [%d, %d) can "
                            "measure: its depth there is wrong or missing (raise max_disparity or num_disparities, or move the rig back)",
                            frame.source_id, 100 * saturated, rng.method, rng.min_disparity, rng.max_disparity)
        maps, agreed = self._match(left, right, rng, left) if cfg.use_colour else self._match(grey_l, grey_r, rng, left)
        if agreed is not None:
            meta["cross_checked_fraction"] = float(agreed.mean())
        disparity, confidence = maps.disparity, maps.confidence
        if Q is not None:
            depth = stereo.disparity_to_depth(disparity, Q)
            meta["focal_px"] = float(Q[2, 3])
            meta["min_measurable_depth_m"] = float(Q[2, 3] / (Q[3, 2] * rng.max_disparity))
        else:
            depth = np.zeros((h, w), dtype=np.float32)
        out_of_range = (depth > 0) & ((depth < cfg.min_depth_m) | (depth > cfg.max_depth_m))
        depth[out_of_range] = 0
        if Q is not None:
            confidence = np.where(depth > 0, confidence, 0).astype(np.float32)
        meta.update(
            matched_fraction=float(maps.matched.mean()),
            filled_fraction=float(maps.filled.mean()),
            out_of_range_fraction=float(out_of_range.mean()),
        )
        return self._result(depth, confidence, K, disparity, left, meta, rectification)

    def _choose_range(self, source: str, left: np.ndarray, right: np.ndarray, Q: np.ndarray | None) -> tuple[DisparityRange, float] | None:
        """The disparity range to search and the share of the image beyond it; None: no texture.

        The coarse pass always runs (a tenth of SGBM-64): it is what notices a swapped pair, a
        blank one, and a scene nearer than an explicit or metric range can see.
        """
        cfg = self.config
        ceiling = max(cfg.max_disparity, cfg.min_disparity + cfg.num_disparities)
        # the pass looks a quarter beyond the ceiling, so it can tell how much lies past it
        est = disparity_range.coarse_estimate(left, right, ceiling + ceiling // 4, PRESETS[cfg.preset].coarse_scale)
        if est.low is None:
            return None
        if est.negative_fraction > disparity_range.SWAPPED_FRACTION:
            raise ValueError(f"left and right look swapped: {100 * est.negative_fraction:.0f}% of the matched disparities are "
                             "negative (the scene moves right from the left view to the right one); swap the two images")
        if cfg.num_disparities:
            rng = DisparityRange(cfg.min_disparity, cfg.num_disparities, "explicit")
        elif cfg.disparity_range == "metric":
            if Q is None:
                raise ValueError("disparity_range=metric needs the rig's focal length and baseline (a StereoCalibration, "
                                 "or focal_px and baseline_m)")
            lo, hi = disparity_range.metric_range(float(Q[2, 3]), float(1.0 / Q[3, 2]), max(cfg.min_depth_m, 1e-6), cfg.max_depth_m)
            rng = disparity_range.to_range(lo, min(hi, cfg.max_disparity), "metric", cfg.max_disparity)
        else:
            lo, hi = self._tracker(source).update(*disparity_range.auto_range(est, cfg.max_disparity))
            rng = disparity_range.to_range(lo, hi, "auto", cfg.max_disparity)
        return rng, est.saturated_fraction(rng.max_disparity)

    def _no_texture(self, source: str, K: np.ndarray, left: np.ndarray, meta: dict[str, Any], rectification: Rectification | None) -> Depth:
        """A flagged, empty result for a pair with nothing to match (blank, capped lens, fog)."""
        self._warn_once(source, "no_texture", "%s: the stereo pair has too little texture to match: no depth", source)
        h, w = left.shape[:2]
        meta.update(no_texture=True, matched_fraction=0.0, filled_fraction=0.0, out_of_range_fraction=0.0)
        return self._result(np.zeros((h, w), np.float32), np.zeros((h, w), np.float32), K, np.full((h, w), -1.0, np.float32),
                            left, meta, rectification)

    def _tracker(self, source: str) -> RangeTracker:
        tracker = self._trackers.get(source)
        if tracker is None:
            tracker = self._trackers[source] = RangeTracker(self.config.range_shrink)
            while len(self._trackers) > MAX_SOURCES:
                self._trackers.popitem(last=False)
        self._trackers.move_to_end(source)
        return tracker

    def _warn_once(self, source: str, kind: str, message: str, *args: Any) -> None:
        if (source, kind) not in self._warned:
            self._warned[(source, kind)] = None
            while len(self._warned) > MAX_SOURCES:
                self._warned.popitem(last=False)
            log.warning(message, *args)

    def _match_scale(self, rng: DisparityRange) -> int:
        """1/n resolution to match at: the configured one (at least the preset's), or half for a very wide range."""
        cfg = self.config
        n = max(cfg.downscale, PRESETS[cfg.preset].match_scale)
        return 2 if n == 1 and rng.num_disparities > cfg.full_res_disparities else n

    def _match(self, left: np.ndarray, right: np.ndarray, rng: DisparityRange, image: np.ndarray) -> tuple[stereo.StereoMaps, np.ndarray | None]:
        """The maps at full size, and where the cross-check agreed (None when it did not run).

        image: the rectified left image in colour (the segments of ``fill_planes``).
        """
        cfg = self.config
        n = self._match_scale(rng)
        h, w = left.shape[:2]
        small = (max(w // n, 1), max(h // n, 1))
        full_left, full_right = left, right
        if n != 1:
            left, right, image = (cv2.resize(img, small, interpolation=cv2.INTER_AREA) for img in (left, right, image))
        params = cfg.sgbm(rng, n)
        # the LR tolerance stays in matching pixels: sub-pixel noise does not shrink with the image;
        # at a reduced size the preset did not choose (a wide range, ``downscale``) the right view is
        # matched at the full size of the reduced pair; a preset that matches reduced (fast) scales it too
        lr_scale = cfg.step("lr_scale") if n == 1 or PRESETS[cfg.preset].match_scale > 1 else "full"
        m = stereo.match(left, right, params, lr_check=cfg.lr_check, max_lr_diff=cfg.max_lr_diff, fill=cfg.fill_holes,
                         lr_scale=lr_scale, fill_filter=cfg.fill_filter,
                         keep_rejected=cfg.keep_rejected, periodic_guard=cfg.step("periodic_guard"))
        agreed = None
        if cfg.step("cross_check"):
            m, agreed = cross_check(m, left, right, params)
        if cfg.step("fill_planes"):
            # after the cross-check (its verdict is on the scan-line fill, as measured), before the
            # occlusion drop, which then judges the planes' answers
            m = plane_fill(m, image)
        if cfg.step("drop_occluded"):  # fill_holes is on: the config checks it, or step() says off
            m = drop_occluded(m, left, cfg.block_size, cfg.occlusion_margin, confirmed=agreed)
            agreed = None if agreed is None else agreed & (m.disparity > 0)
        if n == 1:
            return m, agreed

        def up(a: np.ndarray) -> np.ndarray:
            # nearest keeps "unknown" (<= 0) pixels from bleeding into their neighbours
            return cv2.resize(a.astype(np.uint8) if a.dtype == bool else a, (w, h), interpolation=cv2.INTER_NEAREST)

        disp = up(m.disparity) * np.float32(w / small[0])
        # half-size precision -> full-size precision (subpixel.py); only where reduced size was asked
        # for, so the defaults' output stays as it was: on the one wide-range pair measured
        # (Motorcycle upscaled 3x, no detail beyond half size) the refit was no gain
        if cfg.subpixel_refine and max(cfg.downscale, PRESETS[cfg.preset].match_scale) > 1:
            disp = refine_subpixel(stereo.to_grey(full_left), stereo.to_grey(full_right), disp)
        maps = stereo.StereoMaps(disp.astype(np.float32), up(m.confidence), up(m.matched).astype(bool), up(m.filled).astype(bool))
        return maps, None if agreed is None else up(agreed).astype(bool)

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
