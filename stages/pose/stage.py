"""The ``pose`` stage: 33 body keypoints per person (MediaPipe's pose landmark model on
onnxruntime), with sigma per coordinate from sensorium's own trained RLE head, world landmarks
in metres, and camera-frame 3-D keypoints when a ``depth`` result is on the frame.

Persons come from MediaPipe's pose detector (``persons=detector``, optionally tiled for small
people) or from an upstream ``detect`` result's person boxes (``persons=detect``). Every person
of every frame in a batch goes through the landmark model in one onnxruntime call.

Tracking (``track=true``, off by default): each source's regions for frame t + 1 come from frame
t's landmarks (MediaPipe's alignment points), the detector re-running when the pose presence
drops or every ``redetect_every`` frames. A frame's result then depends on the frames of the same
source before it (deterministic in frame order; frames are taken in ``seq`` order within a batch).
Off, a frame's result depends on that frame alone, so ``run``, ``batch`` and REST agree.

Result per frame: :class:`~sensorium.stages.results.Keypoints` with xy (N, 33, 2) image pixels,
sigma (N, 33, 2) image pixels or None (no head loaded: never invented), scores = visibility,
boxes from the keypoints, names = MediaPipe's keypoint names; ``data``: ``presence`` (N, 33),
``pose_score`` (N,), ``world`` (N, 33, 3) metres (hip-centred, the model's), ``camera`` (N, 33, 3)
metres in the depth camera's frame (only with depth; NaN where no depth); ``metadata``:
``skeleton`` (pairs of keypoint indices, MediaPipe's POSE_CONNECTIONS), ``sigma_head`` (its name or
None) and ``sigma_coverage_radius`` (p -> k: sigma is a scale, not a standard deviation; the region
holding a share p of the errors is k * sigma per axis, under the head's learned density).

sigma is our own model's (``sensorium train pose``: an RLE head on the landmark model's features,
trained with the same model on clean frames as teacher); it predicts how far the keypoint is from
where the model would put it on a clean, well-framed view, not from human-labelled truth.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from sensorium.models.arch.mediapipe import pose
from sensorium.models.arch.mediapipe.roi import Roi
from sensorium.models.hub.runtime import Provider
from sensorium.stages.base import Stage
from sensorium.stages.config import StageConfig
from sensorium.stages.frame import Frame
from sensorium.stages.pose.landmarks import LandmarkBatch, run_landmarks
from sensorium.stages.pose.lift import lift_keypoints
from sensorium.stages.pose.sigma import load_sigma_head
from sensorium.stages.pose.regions import (DetectorSettings, RegionTracker, decode_people, detector_inputs, rois_from_boxes,
                                           rois_from_detections)
from sensorium.stages.results import Depth, Detections, Keypoints

log = logging.getLogger(__name__)

#: MediaPipe's POSE_CONNECTIONS (mediapipe/python/solutions/pose_connections.py), sorted
SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (11, 23), (12, 14),
    (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18), (16, 20), (16, 22), (17, 19), (18, 20),
    (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (27, 31), (28, 30), (28, 32), (29, 31), (30, 32),
)


@dataclass(frozen=True)
class PoseConfig(StageConfig):
    """persons: ``detector`` (MediaPipe's pose detector) or ``detect`` (boxes of the upstream
    ``detect`` result whose label is in ``person_labels``). score_threshold/iou_threshold/max_people:
    the detector's weighted NMS. tiles: 1 = detect on the whole frame; n > 1 also on an n x n grid
    of overlapping tiles (people far from the camera). min_pose_presence: persons whose pose presence
    is below it are dropped. person_overlap: two poses whose keypoint boxes share more than this fraction of the
smaller box are one person (tiles and overlapping detections find the same one twice, or a
head-only pose inside a body): the better pose is kept.
track/redetect_every: see the module docstring. sigma_head: registered
    weights name of the sigma head, or None for no sigma. lift3d: camera-frame keypoints from a
    ``depth`` result. max_pixels: larger frames are refused. providers/threads: onnxruntime."""

    persons: Literal["detector", "detect"] = "detector"
    person_labels: tuple[str, ...] = ("person",)
    score_threshold: float = 0.5
    iou_threshold: float = 0.3
    max_people: int = 10
    tiles: int = 1
    min_pose_presence: float = 0.5
    person_overlap: float = 0.5
    track: bool = False
    redetect_every: int = 10
    sigma_head: str | None = "pose_sigma_rle"
    lift3d: bool = True
    max_pixels: int = 100_000_000
    providers: tuple[Provider, ...] = ("cpu",)
    threads: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("score_threshold", "iou_threshold", "min_pose_presence", "person_overlap"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a value in [0, 1], got {getattr(self, name)}")
        if not 1 <= self.max_people <= 100:
            raise ValueError(f"max_people: expected 1..100, got {self.max_people}")
        if not 1 <= self.tiles <= 8:
            raise ValueError(f"tiles: expected 1..8 (1 = the whole frame only), got {self.tiles}")
        if self.redetect_every < 1:
            raise ValueError(f"redetect_every: expected >= 1, got {self.redetect_every}")
        if self.persons == "detect" and not self.person_labels:
            raise ValueError("persons='detect' needs person_labels (the detect stage's labels that are people)")
        if self.threads < 0 or self.max_pixels < 1:
            raise ValueError(f"expected threads >= 0 and max_pixels >= 1, got {self.threads}, {self.max_pixels}")

    @property
    def detector(self) -> DetectorSettings:
        return DetectorSettings(self.score_threshold, self.iou_threshold, self.max_people, self.tiles)


def distinct_people(xy: np.ndarray, scores: np.ndarray, idx: np.ndarray, overlap: float) -> np.ndarray:
    """The entries of ``idx`` left after suppressing, best pose first, every person whose keypoint box
    shares more than ``overlap`` of the smaller box with a kept one: xy (M, 33, 2) image pixels,
    scores (M,) pose presence; kept in ``idx``'s order."""
    if len(idx) < 2:
        return idx
    boxes = np.concatenate([xy.min(1), xy.max(1)], axis=1).astype(np.float64)
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        lt, rb = np.maximum(boxes[i, :2], boxes[keep, :2]), np.minimum(boxes[i, 2:], boxes[keep, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        if not keep or (inter / np.maximum(np.minimum(area[i], area[keep]), 1e-9)).max() <= overlap:
            keep.append(int(i))
    return idx[np.sort(keep)]


class PoseStage(Stage):
    """Frames -> ``Keypoints`` (33 per person, sigma from our trained head when it is loaded)."""

    name = "pose"
    requires: tuple[str, ...] = ()
    Config = PoseConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.requires = ("detect",) if self.config.persons == "detect" else ()
        self._detector = None
        self._landmarks = None
        self._head = None
        self._tracker = RegionTracker(self.config.redetect_every)

    @classmethod
    def available(cls) -> tuple[bool, str]:
        from sensorium.models.hub.weights import status

        for name in ("mediapipe_pose_detection", "mediapipe_pose_landmark_full"):
            st = status(name)
            if not st.present:
                return False, f"{name}: {st.detail}"
        return True, ""

    def setup(self) -> None:
        if self._landmarks is not None:
            return
        from sensorium.models.arch.mediapipe.files import onnx_file
        from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig
        from sensorium.models.zoo.pose_sigma import feature_graph

        c = self.config
        rt = RuntimeConfig(providers=c.providers, intra_op_threads=c.threads or None, warmup_runs=0)
        self._detector = OnnxModel(onnx_file("mediapipe_pose_detection"), rt, name="pose_detection")
        self._landmarks = OnnxModel(feature_graph(onnx_file("mediapipe_pose_landmark_full")), rt, name="pose_landmark")
        self._head = load_sigma_head(c.sigma_head, rt)

    def reset(self, source: str | None = None) -> None:
        """Forget tracked regions (of one source, or all)."""
        self._tracker.reset(source)

    def check(self, frame: Frame) -> None:
        super().check(frame)
        h, w = frame.image.shape[:2]
        if h * w > self.config.max_pixels:
            raise ValueError(f"{w}x{h} image is above max_pixels = {self.config.max_pixels}; downscale it or raise pose.max_pixels")

    # --- persons -----------------------------------------------------------------------------
    def detect_people(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The pose detector on every window of every image in one call -> per image (boxes (N, 4),
        keypoints (N, 4, 2), scores (N,)), image pixels."""
        if not images:
            return []
        inputs = [detector_inputs(img, self.config.tiles) for img in images]
        out = self._detector.run({"input_1": np.concatenate([x for x, _ in inputs])})
        reg, cls = out["Identity"], out["Identity_1"]
        res, start = [], 0
        for _, where in inputs:
            res.append(decode_people(reg[start:start + len(where)], cls[start:start + len(where)], where, self.config.detector))
            start += len(where)
        return res

    def _boxes_rois(self, frame: Frame) -> list[Roi]:
        dets = frame.results["detect"]
        if not isinstance(dets, Detections):
            raise ValueError(f"persons='detect' expects the 'detect' result to be Detections, got {type(dets).__name__}")
        labels = np.array([dets.class_names[c] if 0 <= c < len(dets.class_names) else "" for c in dets.class_id], dtype=object)
        keep = np.isin(labels, list(self.config.person_labels)) if len(labels) else np.zeros(0, bool)
        return rois_from_boxes(dets.boxes[keep])[: self.config.max_people]

    def _regions(self, frames: Sequence[Frame]) -> list[list[Roi]]:
        if self.config.persons == "detect":
            return [self._boxes_rois(f) for f in frames]
        return [rois_from_detections(k) for _, k, _ in self.detect_people([f.image for f in frames])]

    # --- landmarks -> results ------------------------------------------------------------------
    def _results(self, frames: Sequence[Frame], regions: list[list[Roi]]) -> tuple[list[Keypoints], list[list[Roi]]]:
        items = [(f.image, r) for f, rois in zip(frames, regions) for r in rois]
        lm = run_landmarks(self._landmarks, self._head, items)
        out, nexts, start = [], [], 0
        for frame, rois in zip(frames, regions):
            idx = np.arange(start, start + len(rois))
            start += len(rois)
            idx = idx[lm.pose_score[idx] >= self.config.min_pose_presence]
            idx = distinct_people(lm.decoded["keypoints"][idx, :, :2], lm.pose_score[idx], idx, self.config.person_overlap)
            out.append(self._keypoints(frame, lm, idx))
            nexts.append([pose.next_roi(np.concatenate([lm.decoded["keypoints"][i], lm.decoded["aux"][i]])) for i in idx])
        return out, nexts

    def _keypoints(self, frame: Frame, lm: LandmarkBatch, idx: np.ndarray) -> Keypoints:
        d = lm.decoded
        xy = d["keypoints"][idx, :, :2].astype(np.float32).reshape(-1, pose.NUM_KEYPOINTS, 2)
        h, w = frame.image.shape[:2]
        boxes = np.concatenate([xy.min(1), xy.max(1)], axis=1) if len(xy) else np.zeros((0, 4), np.float32)
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        data = {"presence": d["presence"][idx], "pose_score": lm.pose_score[idx], "world": d["world"][idx]}
        depth = frame.results.get("depth")
        if self.config.lift3d and isinstance(depth, Depth) and np.isfinite(depth.K[0, 0]):
            data["camera"] = lift_keypoints(xy, depth, (h, w))
        sigma = None if lm.sigma_px is None else lm.sigma_px[idx]
        return Keypoints(xy=xy, sigma=sigma, scores=d["visibility"][idx], boxes=boxes, names=pose.KEYPOINT_NAMES, data=data,
                         metadata={"skeleton": [list(e) for e in SKELETON], "sigma_head": self.config.sigma_head if self._head else None,
                                   "sigma_coverage_radius": dict(self._head.info.coverage_radius) if self._head else None})

    def process(self, frames: Sequence[Frame]) -> list[Keypoints]:
        if not self.config.track:
            return self._results(frames, self._regions(frames))[0]
        results: dict[int, Keypoints] = {}
        for i in sorted(range(len(frames)), key=lambda j: (frames[j].source_id, frames[j].seq)):
            results[i] = self._tracked(frames[i])
        return [results[i] for i in range(len(frames))]

    def _tracked(self, frame: Frame) -> Keypoints:
        """One frame with tracking: the source's carried regions, else (or when all are lost) detection."""
        src = frame.source_id
        carried = self._tracker.regions(src)
        if carried is not None:
            (res,), (nxt,) = self._results([frame], [carried])
            if len(res):
                self._tracker.update(src, nxt, detected=False)
                return res
        (res,), (nxt,) = self._results([frame], self._regions([frame]))
        self._tracker.update(src, nxt, detected=True)
        return res
