"""The ``track`` stage: ByteTrack over one source's frames, in 2-D or (when depth ran) metric 3-D.

An *ordered* stage (``Stage.ordered``): it keeps state across frames, so the stream engine runs
one instance per source on that source's frames one at a time in capture order; ``batch`` and
``/v1/perceive`` refuse it. Its answer is a pure function of the frames it is given: time comes
from the frames (the media time ``meta["pos_msec"]`` of a video file, else ``timestamp``),
never from the wall clock.

It tracks one earlier result, named by ``of``: ``detect`` (Detections), ``face`` (Faces) or
``pose`` (Keypoints' instance boxes), and writes ``frame.results["track"]``, a
:class:`~sensorium.stages.results.Tracks`. Rather than rewrite another stage's result, each
track row names the item it matched this frame (``Tracks.item``, an index into
``frame.results[of]``; -1 while the track is lost): the track id of detection ``j`` is
``tracks.track_id[tracks.item == j]``. For faces, ``data["name"]`` is the track's name voted over
its frames (see :mod:`sensorium.stages.track.identity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from sensorium.stages.base import Stage
from sensorium.stages.config import StageConfig
from sensorium.stages.frame import Frame
from sensorium.stages.results import Detections, Faces, Keypoints, Tracks
from sensorium.stages.track.bytetrack import ByteTracker, Observations, TrackerParams
from sensorium.stages.track.identity import IdentityVotes, VoteRule
from sensorium.stages.track.track3d import CHI2_3D_99, Motion3D


@dataclass(frozen=True)
class TrackConfig(StageConfig):
    """of: the result to track. high_threshold/low_threshold/new_track_threshold, match_iou,
    low_match_iou, min_hits, max_age_s (seconds a lost track is kept), class_aware,
    trajectory_length: see :class:`~sensorium.stages.track.bytetrack.TrackerParams`.
    use_3d: associate in metres when the items carry ``xyz`` (depth ran); gate_3d: squared
    Mahalanobis gate; accel_3d: random-acceleration noise (m/s^2). name_min_votes/name_min_share:
    a face track's name needs that many frames and that share of the weighted votes."""

    of: Literal["detect", "face", "pose"] = "detect"
    high_threshold: float = 0.5
    low_threshold: float = 0.1
    new_track_threshold: float = 0.6
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    min_hits: int = 2
    max_age_s: float = 1.0
    class_aware: bool = False
    trajectory_length: int = 30
    use_3d: bool = True
    gate_3d: float = CHI2_3D_99
    accel_3d: float = 3.0
    name_min_votes: int = 3
    name_min_share: float = 0.6

    def __post_init__(self) -> None:
        super().__post_init__()
        self.params()  # validates the tracker's numbers here, at the edge
        VoteRule(self.name_min_votes, self.name_min_share)
        if self.gate_3d <= 0 or self.accel_3d <= 0:
            raise ValueError(f"expected gate_3d > 0 and accel_3d > 0, got {self.gate_3d}, {self.accel_3d}")

    def params(self) -> TrackerParams:
        return TrackerParams(
            high_threshold=self.high_threshold, low_threshold=self.low_threshold, new_track_threshold=self.new_track_threshold,
            match_iou=self.match_iou, low_match_iou=self.low_match_iou, min_hits=self.min_hits, max_age_s=self.max_age_s,
            class_aware=self.class_aware, use_3d=self.use_3d, trajectory_length=self.trajectory_length,
            motion3d=Motion3D(accel=self.accel_3d, gate=self.gate_3d))


def observations(result: Any, of: str) -> tuple[Observations, tuple[str, ...]]:
    """What to track in a ``detect``/``face``/``pose`` result, and its class names."""
    if isinstance(result, Detections):
        return Observations(result.boxes, result.scores, result.class_id, result.xyz, result.xyz_spread), result.class_names
    if isinstance(result, Faces):
        return Observations(result.boxes, result.scores, np.zeros(len(result), np.int64)), ("face",)
    if isinstance(result, Keypoints):
        if result.boxes is None:
            raise ValueError(f"the {of!r} result has no instance boxes to track")
        scores = result.data.get("pose_score")
        if scores is None:
            scores = result.scores.mean(axis=1) if result.scores is not None else np.ones(len(result), np.float32)
        return Observations(result.boxes, scores, np.zeros(len(result), np.int64), _pose_xyz(result)), ("person",)
    raise ValueError(f"track: cannot track a {type(result).__name__} result (of={of!r}); expected Detections, Faces or Keypoints")


def _pose_xyz(kp: Keypoints) -> np.ndarray | None:
    """(N, 3) a person's position when depth lifted the keypoints (``data["camera"]``, (N, K, 3)
    metres): the median over the keypoints that have one (NaN when none has)."""
    camera = kp.data.get("camera")
    if camera is None:
        return None
    camera = np.asarray(camera, np.float64)
    out = np.full((len(camera), 3), np.nan)
    for i, points in enumerate(camera):
        ok = np.isfinite(points).all(axis=1)
        if ok.any():
            out[i] = np.median(points[ok], axis=0)
    return out


def frame_time(frame: Frame) -> float:
    """Seconds: the media time of a video frame (deterministic), else the capture timestamp."""
    pos = frame.meta.get("pos_msec")
    return float(pos) / 1000.0 if pos is not None else float(frame.timestamp)


class TrackStage(Stage):
    """Frames (with the ``of`` result) -> :class:`Tracks`; state per source."""

    name = "track"
    requires: tuple[str, ...] = ()
    Config = TrackConfig
    ordered = True

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        # check_chain (stages/base.py) reads the instance's requires: the tracked stage must run first
        self.requires = (self.config.of,)
        self._trackers: dict[str, ByteTracker] = {}
        self._votes: dict[str, IdentityVotes] = {}

    def reset(self, source: str | None = None) -> None:
        """Forget the tracks (of one source, or all); ids restart at 1."""
        for d in (self._trackers, self._votes):
            if source is None:
                d.clear()
            else:
                d.pop(source, None)

    def __call__(self, frames: Sequence[Frame]) -> list[Frame]:
        # one frame at a time: the base class retries a failed batch item by item, which would
        # feed a tracker the frames it has already seen; here a bad frame fails alone
        for frame in frames:
            super().__call__([frame])
        return list(frames)

    def process(self, frames: Sequence[Frame]) -> list[Tracks]:
        return [self.track(f) for f in frames]

    def track(self, frame: Frame) -> Tracks:
        """Advance ``frame.source_id``'s tracker by this frame."""
        of = self.config.of
        obs, class_names = observations(frame.results[of], of)
        tracker = self._trackers.get(frame.source_id)
        if tracker is None:
            tracker = self._trackers[frame.source_id] = ByteTracker(self.config.params())
        st = tracker.update(frame_time(frame), obs)
        data = {}
        if of == "face":
            data["name"] = self._vote(frame, st.track_id, st.item)
        return Tracks(track_id=st.track_id, boxes=st.boxes, scores=st.scores, class_id=st.class_id, state=st.state, item=st.item,
                      age=st.age, velocity_px=st.velocity_px, xyz=st.xyz, velocity=st.velocity, trajectory=st.trajectory,
                      of=of, class_names=class_names, data=data, metadata={"frame_time": frame_time(frame)})

    def _vote(self, frame: Frame, track_id: np.ndarray, item: np.ndarray) -> np.ndarray:
        faces: Faces = frame.results["face"]
        votes = self._votes.setdefault(frame.source_id, IdentityVotes(VoteRule(self.config.name_min_votes, self.config.name_min_share)))
        seen = item >= 0
        identity = faces.data.get("identity")
        if identity is not None and seen.any():
            sim = None if faces.similarity is None else faces.similarity[item[seen]]
            votes.add(track_id[seen], identity[item[seen]], sim)
        votes.forget(track_id)
        return votes.names(track_id)
