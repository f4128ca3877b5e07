"""ByteTrack (Zhang et al., ECCV 2022): multi-object tracking by associating every detection box.

Per frame: predict every track with its Kalman filter; match confirmed tracks to the
high-score detections (IoU, Hungarian); match the tracks still unmatched *and seen last frame*
to the low-score detections (an occluded person's weak box keeps its track instead of being
thrown away); match tentative tracks to the high-score detections left; start tentative tracks
from the high-score detections left above ``new_track_threshold``. A tentative track is
confirmed after ``min_hits`` matches in a row (and gets its id then, so false positives burn no
ids) and dropped at its first miss; a confirmed track is kept ``LOST``, predicted by its
filter, until ``max_age_s`` seconds pass without a match. Ids count up per tracker (one per
source) and are never reused. Time steps are the frames' timestamps, not frame counts: at
15 fps or across a dropped frame a lost track lives as many seconds as at 30 fps.

State is kept as arrays (struct of arrays) so the cost per frame stays a handful of numpy
calls at 1000 tracks. The tracker is a pure function of the sequence of observations it gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sensorium.stages.results.tracks import LOST, TRACKED
from sensorium.stages.track.associate import gate_classes, iou_matrix, linear_assignment
from sensorium.stages.track.kalman import REF_DT, BoxNoise, ConstantVelocity, box_size_std, box_to_z, z_to_box
from sensorium.stages.track.track3d import Motion3D, Positions3D


@dataclass(frozen=True)
class TrackerParams:
    """high_threshold/low_threshold: the score split of ByteTrack's two associations
    (below low_threshold a detection is ignored); new_track_threshold: the least score that
    starts a track; match_iou/low_match_iou/tentative_match_iou: the least IoU of a pair in the
    first (high-score), second (low-score) and tentative association (ByteTrack's 0.2, 0.5, 0.3);
    min_hits: matches that confirm a track; max_age_s: seconds a lost track is kept;
    class_aware: never match a track to another class; use_3d: associate in 3-D when items
    carry positions; trajectory_length: 3-D positions kept per track."""

    high_threshold: float = 0.5
    low_threshold: float = 0.1
    new_track_threshold: float = 0.6
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    tentative_match_iou: float = 0.3
    min_hits: int = 2
    max_age_s: float = 1.0
    class_aware: bool = False
    use_3d: bool = True
    trajectory_length: int = 30
    noise: BoxNoise = field(default_factory=BoxNoise)
    motion3d: Motion3D = field(default_factory=Motion3D)

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_threshold <= self.high_threshold <= 1.0:
            raise ValueError(f"expected 0 <= low_threshold <= high_threshold <= 1, got {self.low_threshold}, {self.high_threshold}")
        for name in ("match_iou", "low_match_iou", "tentative_match_iou", "new_track_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a value in [0, 1], got {getattr(self, name)}")
        if self.min_hits < 1 or self.max_age_s < 0 or self.trajectory_length < 1:
            raise ValueError(f"expected min_hits >= 1, max_age_s >= 0, trajectory_length >= 1; got "
                             f"{self.min_hits}, {self.max_age_s}, {self.trajectory_length}")


@dataclass(frozen=True)
class Observations:
    """One frame's items to track: boxes (M, 4) float ``x1, y1, x2, y2`` pixels, scores (M,),
    class_id (M,) int; xyz/spread (M, 3) metres in the camera frame when depth ran (NaN rows:
    no depth behind that box)."""

    boxes: np.ndarray
    scores: np.ndarray
    class_id: np.ndarray
    xyz: np.ndarray | None = None
    spread: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name, dtype in (("boxes", np.float64), ("scores", np.float32), ("class_id", np.int64), ("xyz", np.float64), ("spread", np.float64)):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, np.asarray(getattr(self, name), dtype))
        m = len(self.scores)
        if np.shape(self.boxes) != (m, 4) or np.shape(self.class_id) != (m,):
            raise ValueError(f"expected boxes (M, 4), scores (M,), class_id (M,); got {np.shape(self.boxes)}, {np.shape(self.scores)}, {np.shape(self.class_id)}")
        for name in ("xyz", "spread"):
            if getattr(self, name) is not None and np.shape(getattr(self, name)) != (m, 3):
                raise ValueError(f"{name}: expected ({m}, 3), got {np.shape(getattr(self, name))}")
        if not np.isfinite(np.asarray(self.boxes, np.float64)).all():
            raise ValueError("boxes: expected finite coordinates")

    @classmethod
    def empty(cls) -> Observations:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))


@dataclass(frozen=True)
class TrackState:
    """The confirmed tracks after one frame, sorted by id: track_id, boxes (filtered), scores,
    class_id, state, item, age (frames), velocity_px (px/s); xyz, velocity, trajectory when the
    frame's observations carried positions."""

    track_id: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    class_id: np.ndarray
    state: np.ndarray
    item: np.ndarray
    age: np.ndarray
    velocity_px: np.ndarray
    xyz: np.ndarray | None = None
    velocity: np.ndarray | None = None
    trajectory: np.ndarray | None = None


class ByteTracker:
    """ByteTrack for one source; :meth:`update` once per frame, frames in capture order."""

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.p = params or TrackerParams()
        self.kf = ConstantVelocity(4)
        self.mean, self.cov = np.zeros((0, 8)), np.zeros((0, 8, 8))
        self.ids = np.zeros(0, np.int64)  # -1 while tentative
        self.hits = np.zeros(0, np.int64)
        self.born = np.zeros(0, np.int64)  # frame index of birth
        self.last_seen = np.zeros(0)  # timestamp of the last match
        self.state = np.zeros(0, np.int64)
        self.score, self.cls = np.zeros(0, np.float32), np.zeros(0, np.int64)
        self.pos3d = Positions3D(self.p.motion3d, self.p.trajectory_length)
        self.frame, self.time, self.next_id = -1, None, 1

    def __len__(self) -> int:
        return len(self.ids)

    def update(self, timestamp: float, obs: Observations) -> TrackState:
        """Advance to ``timestamp`` (seconds, not before the previous frame's) with this frame's observations."""
        if self.time is not None and timestamp < self.time:
            raise ValueError(f"frames out of order: timestamp {timestamp} after {self.time}")
        dt = 0.0 if self.time is None else float(timestamp - self.time)
        self.time, self.frame = float(timestamp), self.frame + 1
        use3d = self.p.use_3d and obs.xyz is not None
        xyz = np.asarray(obs.xyz, np.float64) if use3d else None
        spread = (np.asarray(obs.spread, np.float64) if obs.spread is not None else np.full(xyz.shape, np.nan)) if use3d else None
        self._predict(dt)
        item = np.full(len(self), -1, np.int64)
        matches = self._associate(obs, xyz, spread)
        if len(matches):
            self._correct(matches, obs, xyz, spread)
            item[matches[:, 0]] = matches[:, 1]
        unmatched_new = np.setdiff1d(np.flatnonzero(obs.scores >= self.p.high_threshold), matches[:, 1])
        self._retire(item)
        item = item[item != -2]
        born = unmatched_new[obs.scores[unmatched_new] >= self.p.new_track_threshold]
        self._birth(born, obs, xyz, spread)
        item = np.concatenate([item, born])
        return self._output(item, xyz is not None)

    def _predict(self, dt: float) -> None:
        if not len(self):
            return
        self.mean[self.state == LOST, 7] = 0.0  # a lost box keeps its size (ByteTrack)
        z = self.mean[:, :4]
        k = np.sqrt(dt / REF_DT)
        q_pos = k * box_size_std(z, self.p.noise.position)
        q_vel = k * box_size_std(z, self.p.noise.velocity) / REF_DT
        self.mean, self.cov = self.kf.predict(self.mean, self.cov, dt, q_pos, q_vel)
        if self.pos3d is not None:
            self.pos3d.predict(dt)

    def _cost(self, rows: np.ndarray, dets: np.ndarray, obs: Observations, xyz, spread) -> np.ndarray:
        iou = iou_matrix(z_to_box(self.mean[rows]), obs.boxes[dets])
        cost = 1.0 - iou if xyz is None else self.pos3d.cost(rows, iou, xyz[dets], spread[dets])
        if self.p.class_aware:
            cost = gate_classes(cost, self.cls[rows], obs.class_id[dets])
        return cost

    def _match(self, rows, dets, obs, xyz, spread, min_iou) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Matches (K, 2) as (track row, detection index) and the unmatched rows and detections."""
        m, ur, ud = linear_assignment(self._cost(rows, dets, obs, xyz, spread), 1.0 - min_iou)
        return np.stack([rows[m[:, 0]], dets[m[:, 1]]], axis=1), rows[ur], dets[ud]

    def _associate(self, obs: Observations, xyz, spread) -> np.ndarray:
        """ByteTrack's three associations; all matches (K, 2) as (track row, detection index)."""
        p, scores = self.p, np.asarray(obs.scores)
        high = np.flatnonzero(scores >= p.high_threshold)
        low = np.flatnonzero((scores >= p.low_threshold) & (scores < p.high_threshold))
        confirmed, tentative = np.flatnonzero(self.ids >= 0), np.flatnonzero(self.ids < 0)
        m1, rest, high_left = self._match(confirmed, high, obs, xyz, spread, p.match_iou)
        rest = rest[self.state[rest] == TRACKED]  # ByteTrack: only tracks seen last frame take low boxes
        m2, _, _ = self._match(rest, low, obs, xyz, spread, p.low_match_iou)
        m3, _, _ = self._match(tentative, high_left, obs, xyz, spread, p.tentative_match_iou)
        return np.concatenate([m1, m2, m3]).astype(np.int64)

    def _correct(self, matches: np.ndarray, obs: Observations, xyz, spread) -> None:
        rows, dets = matches[:, 0], matches[:, 1]
        z = box_to_z(obs.boxes[dets])
        r = box_size_std(z, self.p.noise.measurement)
        self.mean[rows], self.cov[rows] = self.kf.update(self.mean[rows], self.cov[rows], z, r)
        self.hits[rows] += 1
        self.last_seen[rows] = self.time
        self.state[rows] = TRACKED
        self.score[rows], self.cls[rows] = obs.scores[dets], obs.class_id[dets]
        if xyz is not None:
            self.pos3d.update(rows, xyz[dets], spread[dets])
        promote = rows[(self.ids[rows] < 0) & (self.hits[rows] >= self.p.min_hits)]
        self._give_ids(promote)

    def _give_ids(self, rows: np.ndarray) -> None:
        rows = rows[np.argsort(self.born[rows], kind="stable")]
        self.ids[rows] = np.arange(self.next_id, self.next_id + len(rows))
        self.next_id += len(rows)

    def _retire(self, item: np.ndarray) -> None:
        """Unmatched tentative tracks go at once; unmatched confirmed ones turn LOST and go after
        ``max_age_s`` seconds unmatched. Marks dropped rows -2 in ``item`` (in place)."""
        missed = item < 0
        self.state[missed] = LOST
        drop = missed & ((self.ids < 0) | (self.time - self.last_seen > self.p.max_age_s + 1e-9))
        item[drop] = -2
        keep = ~drop
        for name in ("mean", "cov", "ids", "hits", "born", "last_seen", "state", "score", "cls"):
            setattr(self, name, getattr(self, name)[keep])
        self.pos3d.keep(keep)

    def _birth(self, dets: np.ndarray, obs: Observations, xyz, spread) -> None:
        n = len(dets)
        z = box_to_z(obs.boxes[dets])
        mean, cov = self.kf.initiate(z, 2 * box_size_std(z, self.p.noise.position), 10 * box_size_std(z, self.p.noise.velocity) / REF_DT)
        self.mean, self.cov = np.concatenate([self.mean, mean]), np.concatenate([self.cov, cov])
        self.ids = np.concatenate([self.ids, np.full(n, -1, np.int64)])
        self.hits = np.concatenate([self.hits, np.ones(n, np.int64)])
        self.born = np.concatenate([self.born, np.full(n, self.frame, np.int64)])
        self.last_seen = np.concatenate([self.last_seen, np.full(n, self.time)])
        self.state = np.concatenate([self.state, np.full(n, TRACKED, np.int64)])
        self.score = np.concatenate([self.score, np.asarray(obs.scores, np.float32)[dets]])
        self.cls = np.concatenate([self.cls, np.asarray(obs.class_id, np.int64)[dets]])
        self.pos3d.add(xyz[dets] if xyz is not None else np.full((n, 3), np.nan), spread[dets] if xyz is not None else np.full((n, 3), np.nan))
        new = np.arange(len(self) - n, len(self))
        # ByteTrack confirms the first frame's tracks at once; later ones wait for min_hits
        self._give_ids(new[(self.hits[new] >= self.p.min_hits) | (self.frame == 0)])

    def _output(self, item: np.ndarray, with3d: bool) -> TrackState:
        rows = np.flatnonzero(self.ids >= 0)
        rows = rows[np.argsort(self.ids[rows])]
        out = TrackState(
            track_id=self.ids[rows].copy(), boxes=z_to_box(self.mean[rows]).astype(np.float32), scores=self.score[rows].copy(),
            class_id=self.cls[rows].copy(), state=self.state[rows].copy(), item=item[rows].copy(), age=(self.frame - self.born[rows]).astype(np.int64),
            velocity_px=self.mean[rows, 4:6].astype(np.float32))
        if not with3d:
            return out
        xyz, vel, traj = self.pos3d.outputs(rows)
        return TrackState(**{**out.__dict__, "xyz": xyz, "velocity": vel, "trajectory": traj})
