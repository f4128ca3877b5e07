"""Generated multi-object tracking sequences with exact ground truth, and a noisy detector's boxes.

Objects move at constant velocity with occasional turns, cross each other, pass behind one
another and leave the frame (bouncing off walls a margin outside it) to re-enter later. The
ground truth is exact: every object's box, its id and its visibility (the share of the box
inside the image and not covered by a nearer object). The "detector" sees what a real one would:
boxes with jitter, missed objects, false positives, and low scores for partly hidden objects
(ByteTrack's second association exists for those), nothing for hidden ones.

:func:`depth_overlap_sequence` adds metric 3-D: objects at different depths seen through a
pinhole camera, sized so pairs at different depths look alike and overlap in the image while
they walk the same way; detections carry ``xyz`` and ``xyz_spread`` as the depth lifter makes
them (a box mostly hidden by a nearer object gets the occluder's depth). Every sequence is a pure
function of (config, seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SequenceConfig:
    """width/height: image (pixels); fps/frames; objects: how many; height_px: box height range;
    aspect: width/height; speed: px/s range; turn: chance per object of turning (rad/s up to
    ``max_turn``); margin: walls this far outside the image (pixels) where objects bounce;
    jitter: box noise sd as a share of its size; miss: chance a visible object is not detected;
    false_positives: mean false boxes per frame; partial/hidden: visibility below which a
    detection is low-score / absent; body: the share of a box's width its object covers (a
    person fills the middle of its box: two people's boxes overlap more than their bodies do)."""

    width: int = 960
    height: int = 540
    fps: float = 30.0
    frames: int = 300
    objects: int = 10
    height_px: tuple[float, float] = (50.0, 140.0)
    aspect: float = 0.45
    speed: tuple[float, float] = (30.0, 160.0)
    turn: float = 0.3
    max_turn: float = 0.8
    margin: float = 150.0
    jitter: float = 0.04
    miss: float = 0.05
    false_positives: float = 0.5
    partial: float = 0.6
    hidden: float = 0.2
    body: float = 1.0


@dataclass(frozen=True)
class FrameTruth:
    """One frame's ground truth: ids (K,) int64, boxes (K, 4) float32 ``x1, y1, x2, y2`` clipped to
    the image, visibility (K,) float32 in (0, 1]; xyz (K, 3) metres (camera frame) or None."""

    ids: np.ndarray
    boxes: np.ndarray
    visibility: np.ndarray
    xyz: np.ndarray | None = None


@dataclass(frozen=True)
class FrameDetections:
    """One frame's detector output: boxes (M, 4) float32, scores (M,) float32, class_id (M,) int64,
    gt_id (M,) int64 (the object it came from, -1: false positive); xyz, xyz_spread (M, 3) or None."""

    boxes: np.ndarray
    scores: np.ndarray
    class_id: np.ndarray
    gt_id: np.ndarray
    xyz: np.ndarray | None = None
    xyz_spread: np.ndarray | None = None


@dataclass(frozen=True)
class MotSequence:
    """timestamps (T,) seconds; truth and detections per frame; fx, cx, cy of the pinhole camera (3-D only)."""

    timestamps: np.ndarray
    truth: list[FrameTruth]
    detections: list[FrameDetections]
    width: int
    height: int
    camera: tuple[float, float, float] | None = None
    name: str = ""
    extra: dict = field(default_factory=dict)


def _walk(cfg: SequenceConfig, rng: np.random.Generator) -> np.ndarray:
    """Centres (T, N, 2): constant velocity, some objects turning, bouncing off the walls."""
    n, dt = cfg.objects, 1.0 / cfg.fps
    lo, hi = np.array([-cfg.margin, -cfg.margin]), np.array([cfg.width + cfg.margin, cfg.height + cfg.margin])
    pos = rng.uniform([0, 0], [cfg.width, cfg.height], (n, 2))
    heading = rng.uniform(0, 2 * np.pi, n)
    speed = rng.uniform(*cfg.speed, n)
    omega = np.where(rng.random(n) < cfg.turn, rng.uniform(-cfg.max_turn, cfg.max_turn, n), 0.0)
    out = np.zeros((cfg.frames, n, 2))
    for t in range(cfg.frames):
        out[t] = pos
        heading = heading + omega * dt
        vel = speed[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)
        pos = pos + vel * dt
        for axis in (0, 1):  # bounce: reflect the heading's component on that axis
            out_lo, out_hi = pos[:, axis] < lo[axis], pos[:, axis] > hi[axis]
            flip = out_lo | out_hi
            vel[flip, axis] *= -1
            pos[:, axis] = np.clip(pos[:, axis], lo[axis], hi[axis])
            heading = np.where(flip, np.arctan2(vel[:, 1], vel[:, 0]), heading)
    return out


def visibility(boxes: np.ndarray, depth: np.ndarray, width: int, height: int, grid: int = 10, body: float = 1.0) -> np.ndarray:
    """(N,) share of each box (N, 4) inside the image and not covered by a nearer object (smaller
    ``depth`` (N,)), whose body is the middle ``body`` share of its box's width; sampled on a
    grid x grid lattice of points."""
    s = (np.arange(grid) + 0.5) / grid
    px = boxes[:, None, 0] + s[None] * (boxes[:, 2] - boxes[:, 0])[:, None]  # (N, G)
    py = boxes[:, None, 1] + s[None] * (boxes[:, 3] - boxes[:, 1])[:, None]
    x, y = np.repeat(px, grid, axis=1), np.tile(py, (1, grid))  # (N, G*G)
    seen = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    for j in range(len(boxes)):
        nearer = depth[j] < depth
        half = 0.5 * body * (boxes[j, 2] - boxes[j, 0])
        mid = 0.5 * (boxes[j, 0] + boxes[j, 2])
        inside = (x >= mid - half) & (x <= mid + half) & (y >= boxes[j, 1]) & (y <= boxes[j, 3])
        seen &= ~(inside & nearer[:, None])
    return seen.mean(axis=1)


def _clip(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)


def _detect(cfg: SequenceConfig, rng: np.random.Generator, boxes: np.ndarray, vis: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, ...]:
    """A noisy detector on one frame's true boxes: (kept object rows, boxes, scores) plus false positives (gt -1)."""
    wh = boxes[:, 2:] - boxes[:, :2]
    noisy = boxes + rng.normal(0, cfg.jitter, boxes.shape) * np.concatenate([wh, wh], axis=1)
    partial = vis < cfg.partial
    keep = (vis >= cfg.hidden) & (rng.random(len(boxes)) >= np.where(partial, 0.2, cfg.miss))
    scores = np.where(partial, rng.uniform(0.15, 0.5, len(boxes)), rng.uniform(0.55, 0.95, len(boxes)))
    n_fp = rng.poisson(cfg.false_positives)
    h = rng.uniform(*cfg.height_px, n_fp)
    c = rng.uniform([0, 0], [cfg.width, cfg.height], (n_fp, 2))
    fp = np.stack([c[:, 0] - cfg.aspect * h / 2, c[:, 1] - h / 2, c[:, 0] + cfg.aspect * h / 2, c[:, 1] + h / 2], axis=1)
    rows = np.flatnonzero(keep)
    out_boxes = _clip(np.concatenate([noisy[rows], fp.reshape(-1, 4)]), cfg.width, cfg.height)
    out_scores = np.concatenate([scores[rows], rng.uniform(0.1, 0.7, n_fp)]).astype(np.float32)
    gt = np.concatenate([ids[rows], -np.ones(n_fp, np.int64)])
    return rows, out_boxes, out_scores, gt


def crossing_sequence(seed: int, cfg: SequenceConfig | None = None) -> MotSequence:
    """Objects wandering a 2-D image: crossings, occlusions (the larger box is nearer), exits and re-entries."""
    cfg = cfg or SequenceConfig()
    rng = np.random.default_rng(seed)
    centres = _walk(cfg, rng)
    h = rng.uniform(*cfg.height_px, cfg.objects)
    half = np.stack([cfg.aspect * h / 2, h / 2], axis=1)
    ids = np.arange(1, cfg.objects + 1, dtype=np.int64)
    truth, dets = [], []
    for t in range(cfg.frames):
        boxes = np.concatenate([centres[t] - half, centres[t] + half], axis=1)
        vis = visibility(boxes, -h, cfg.width, cfg.height)
        inside = vis > 0
        truth.append(FrameTruth(ids[inside], _clip(boxes[inside], cfg.width, cfg.height), vis[inside].astype(np.float32)))
        _, b, s, g = _detect(cfg, rng, boxes, vis, ids)
        dets.append(FrameDetections(b, s, np.zeros(len(s), np.int64), g))
    return MotSequence(np.arange(cfg.frames) / cfg.fps, truth, dets, cfg.width, cfg.height, name=f"crossing-{seed}")


def depth_overlap_sequence(seed: int, cfg: SequenceConfig | None = None, pairs: int = 4, focal: float = 800.0) -> MotSequence:
    """Pairs of objects walking the same way, one near (3-5 m) and one far (7-10 m), sized so
    both boxes look alike and overlap for seconds while the nearer one slowly overtakes; the
    pinhole camera has focal ``focal`` px and its principal point at the image centre."""
    cfg = cfg or SequenceConfig(objects=2 * pairs, false_positives=0.2, body=0.3)
    rng = np.random.default_rng(seed)
    n, cx, cy = 2 * pairs, cfg.width / 2, cfg.height / 2
    z = np.concatenate([rng.uniform(3, 5, pairs), rng.uniform(7, 10, pairs)])
    size_px = np.repeat(rng.uniform(*cfg.height_px, pairs), 2).reshape(2, pairs, order="F").reshape(-1) * rng.uniform(0.95, 1.05, n)
    height_m = size_px * z / focal  # (N,) the physical height that makes the box that tall at that depth
    v_img = np.tile(rng.uniform(cy - 150, cy + 150, pairs), 2)
    speed_px = rng.uniform(30, 60, pairs)
    start = np.tile(rng.uniform(-cfg.margin, cfg.width * 0.3, pairs), 2) + np.concatenate([np.zeros(pairs), rng.uniform(20, 60, pairs)])
    direction = np.tile(rng.choice([-1.0, 1.0], pairs), 2)
    speed = np.concatenate([speed_px * 1.2, speed_px])  # near ones catch up with and pass the far ones
    ids = np.arange(1, n + 1, dtype=np.int64)
    truth, dets = [], []
    for t in range(cfg.frames):
        u = np.where(direction > 0, start + speed * t / cfg.fps, cfg.width - start - speed * t / cfg.fps)
        u = cx + (np.mod(u - cx + cfg.width, 2 * cfg.width) - cfg.width)  # wrap: leave and come back
        xyz = np.stack([(u - cx) * z / focal, (v_img - cy) * z / focal, z], axis=1)
        half = np.stack([cfg.aspect * size_px / 2, size_px / 2], axis=1)
        boxes = np.concatenate([np.stack([u, v_img], 1) - half, np.stack([u, v_img], 1) + half], axis=1)
        vis = visibility(boxes, z, cfg.width, cfg.height, body=cfg.body)
        inside = vis > 0
        truth.append(FrameTruth(ids[inside], _clip(boxes[inside], cfg.width, cfg.height), vis[inside].astype(np.float32), xyz[inside].astype(np.float32)))
        rows, b, s, g = _detect(cfg, rng, boxes, vis, ids)
        dets.append(_lift(rng, b, s, g, rows, xyz, boxes, vis, z, cfg))
    extra = {"height_m": height_m}
    return MotSequence(np.arange(cfg.frames) / cfg.fps, truth, dets, cfg.width, cfg.height, (focal, cx, cy), f"depth-overlap-{seed}", extra)


def _lift(rng, b, s, g, rows, xyz, boxes, vis, z, cfg: SequenceConfig) -> FrameDetections:
    """Detections with ``xyz`` as a depth lifter gives them: the true position with 2 % noise, or
    (box mostly hidden) the depth of the nearest object covering it; false positives get a
    random depth."""
    m = len(s)
    out = np.zeros((m, 3), np.float32)
    spread = np.zeros((m, 3), np.float32)
    for k in range(m):
        if g[k] < 0:
            depth = rng.uniform(2, 12)
            out[k] = [0.0, 0.0, depth]
            spread[k] = 0.5
            continue
        i = int(rows[k])
        true = xyz[i].copy()
        if vis[i] < 0.5:
            cover = [j for j in range(len(z)) if z[j] < z[i] and _overlap(boxes[i], boxes[j])]
            if cover:
                true = true * (z[min(cover, key=lambda j: z[j])] / z[i])
        sigma = 0.02 * true[2]
        out[k] = true + rng.normal(0, sigma, 3)
        spread[k] = sigma
    return FrameDetections(b, s, np.zeros(m, np.int64), g, out, spread)


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
