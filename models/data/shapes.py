"""A generated detection data set: shapes of several classes, at widely varying scales, over
cluttered backgrounds, with exact boxes.

No detection weights or data sets can be downloaded here, so sensorium's detector is trained
and measured on this: every image is a pure function of (seed, index), so a split is just a
seed, and a held-out split with a different seed shares no image with training. Scales span
~12 px to most of the image (log-uniform), so COCO's small/medium/large buckets are all
populated; the clutter (blobs, lines, noise in the objects' colours) makes it more than colour
thresholding. Images are RGB uint8 (H, W, 3); boxes are float32 xyxy pixels; labels index
:data:`CLASSES`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CLASSES = ("circle", "square", "triangle", "star", "ring", "cross")


@dataclass(frozen=True)
class ShapesConfig:
    """size: image side in pixels; objects: min/max objects per image; scale: min/max object
    size in pixels (log-uniform); max_iou: objects overlap at most this much (so every box is
    a fair target); clutter: background distractor count."""

    size: int = 256
    min_objects: int = 1
    max_objects: int = 6
    min_scale: float = 12.0
    max_scale: float = 160.0
    max_iou: float = 0.3
    clutter: int = 30


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _background(rng: np.random.Generator, cfg: ShapesConfig) -> np.ndarray:
    s = cfg.size
    base = rng.integers(0, 256, 3)
    img = np.empty((s, s, 3), np.uint8)
    img[:] = base
    noise = cv2.GaussianBlur(rng.normal(0, 40, (s, s, 3)).astype(np.float32), (0, 0), rng.uniform(1, 6))
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    for _ in range(cfg.clutter):  # distractors: lines and thin arcs, never a full class shape
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.6:
            p1, p2 = rng.integers(0, s, 2), rng.integers(0, s, 2)
            cv2.line(img, tuple(map(int, p1)), tuple(map(int, p2)), colour, int(rng.integers(1, 3)), cv2.LINE_AA)
        else:
            c = tuple(map(int, rng.integers(0, s, 2)))
            r = int(rng.integers(3, s // 6))
            start = int(rng.integers(0, 360))
            cv2.ellipse(img, c, (r, int(r * rng.uniform(0.3, 1))), 0, start, start + int(rng.integers(30, 150)), colour, 1, cv2.LINE_AA)
    return img


def _draw(img: np.ndarray, cls: int, box: np.ndarray, rng: np.random.Generator) -> None:
    x1, y1, x2, y2 = box
    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    name = CLASSES[cls]
    shift = 4  # sub-pixel drawing: coordinates in 1/16 px
    f = 1 << shift
    if name == "circle":
        cv2.circle(img, (int(cx * f), int(cy * f)), int(r * f), colour, -1, cv2.LINE_AA, shift)
    elif name == "ring":
        cv2.circle(img, (int(cx * f), int(cy * f)), int(r * 0.8 * f), colour, max(2, int(r * 0.35)), cv2.LINE_AA, shift)
    elif name in ("square", "cross"):  # polygons, not cv2.rectangle, whose corner pixel is inclusive
        t = r * 0.35
        rects = [(x1, y1, x2, y2)] if name == "square" else [(cx - t, y1, cx + t, y2), (x1, cy - t, x2, cy + t)]
        polys = [np.round(np.array([[a, b], [c, b], [c, d], [a, d]]) * f).astype(np.int32) for a, b, c, d in rects]
        cv2.fillPoly(img, polys, colour, cv2.LINE_AA, shift)
    else:
        if name == "triangle":
            pts = np.array([[cx, y1], [x2, y2], [x1, y2]])
        else:  # star: 5 points, inner radius 0.45 r, fitted to the box below
            ang = -np.pi / 2 + np.arange(10) * np.pi / 5
            rad = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
            pts = np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)
            pts = (pts - pts.min(0)) / (pts.max(0) - pts.min(0))
            pts = pts * [x2 - x1, y2 - y1] + [x1, y1]
        cv2.fillPoly(img, [np.round(pts * f).astype(np.int32)], colour, cv2.LINE_AA, shift)


def make_image(seed: int, index: int, cfg: ShapesConfig = ShapesConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image ``index`` of the split ``seed``: (image (S, S, 3) uint8 RGB, boxes (N, 4) float32
    xyxy pixels, labels (N,) int64)."""
    rng = np.random.default_rng([seed, index])
    img = _background(rng, cfg)
    boxes: list[np.ndarray] = []
    labels: list[int] = []
    want = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    for _ in range(want * 10):
        if len(boxes) == want:
            break
        side = float(np.exp(rng.uniform(np.log(cfg.min_scale), np.log(min(cfg.max_scale, cfg.size - 2)))))
        x1, y1 = rng.uniform(0, cfg.size - side, 2)
        box = np.array([x1, y1, x1 + side, y1 + side], np.float32)
        if any(_iou(box, b) > cfg.max_iou for b in boxes):
            continue
        cls = int(rng.integers(len(CLASSES)))
        _draw(img, cls, box, rng)
        boxes.append(box)
        labels.append(cls)
    # later shapes may cover earlier ones; max_iou keeps every object mostly visible
    return img, np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64)
