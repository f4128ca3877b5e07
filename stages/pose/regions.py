"""Where the pose landmark model looks: person regions from the pose detector, from person boxes
of an upstream detector, or from the previous frame's landmarks (tracking).

The MediaPipe pose detector (BlazePose's, 224x224) finds people who fill a good part of the
frame; small people in a wide view (a street camera's pedestrians) are below its anchors. With
``tiles > 1`` it also runs on an n x n grid of overlapping tiles (each 1.5/n of the frame's side,
so a person on a tile seam is whole in one of them), and all detections are merged by the same
weighted NMS, in image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorium.models.arch.mediapipe import face_detection as fd
from sensorium.models.arch.mediapipe import pose
from sensorium.models.arch.mediapipe.roi import Roi, roi_from_box

_ANCHORS = fd.ssd_anchor_centres(pose.POSE_ANCHORS)
TILE_OVERLAP = 1.5  # a tile's side is this times frame side / n


@dataclass(frozen=True)
class DetectorSettings:
    """score_threshold: keep detections at or above it; iou_threshold: weighted-NMS overlap;
    max_people: at most this many, best first; tiles: 1 = the whole frame only, n > 1 adds an n x n grid."""

    score_threshold: float = 0.5
    iou_threshold: float = 0.3
    max_people: int = 10
    tiles: int = 1


def tile_windows(h: int, w: int, tiles: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) windows the detector runs on: the whole frame, then an n x n grid of
    overlapping tiles when ``tiles`` > 1 (clipped to the frame)."""
    windows = [(0, 0, w, h)]
    if tiles > 1:
        th, tw = min(h, int(round(h / tiles * TILE_OVERLAP))), min(w, int(round(w / tiles * TILE_OVERLAP)))
        for gy in range(tiles):
            for gx in range(tiles):
                y0, x0 = int(round((h - th) * gy / (tiles - 1))), int(round((w - tw) * gx / (tiles - 1)))
                windows.append((x0, y0, x0 + tw, y0 + th))
    return windows


def detector_inputs(image_rgb: np.ndarray, tiles: int) -> tuple[np.ndarray, list[tuple[fd.Letterbox, tuple[int, int]]]]:
    """((T, 224, 224, 3) float32 in [-1, 1], each window's letterbox and (x0, y0) offset) for one image."""
    batch, where = [], []
    for x0, y0, x1, y1 in tile_windows(*image_rgb.shape[:2], tiles):
        x, box = fd.letterbox(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]), pose.DETECTOR_SIZE)
        batch.append(x)
        where.append((box, (x0, y0)))
    return np.stack(batch), where


def decode_people(regressors: np.ndarray, classificators: np.ndarray, where: list[tuple[fd.Letterbox, tuple[int, int]]],
                  settings: DetectorSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The detector's raw outputs (T, 2254, 12) and (T, 2254, 1) for one image's windows ->
    (boxes (N, 4) xyxy, keypoints (N, 4, 2), scores (N,)), image pixels, best first, at most max_people."""
    boxes, keypoints, scores = [], [], []
    for reg, cls, (box, (x0, y0)) in zip(regressors, classificators, where):
        b, k, s = fd.decode(reg, cls, _ANCHORS, input_size=pose.DETECTOR_SIZE)
        keep = s >= settings.score_threshold
        b, k = fd.to_image(b[keep], k[keep], box)
        boxes.append(b + np.array([x0, y0, x0, y0], np.float32))
        keypoints.append(k + np.array([x0, y0], np.float32))
        scores.append(s[keep])
    return fd.weighted_nms(np.concatenate(boxes), np.concatenate(keypoints), np.concatenate(scores),
                           score_threshold=settings.score_threshold, iou_threshold=settings.iou_threshold,
                           top_k=settings.max_people)


def rois_from_detections(keypoints: np.ndarray) -> list[Roi]:
    """One region per detected person from the detector's (N, 4, 2) image-pixel keypoints."""
    return [pose.roi_from_detection(k) for k in keypoints]


def rois_from_boxes(boxes: np.ndarray) -> list[Roi]:
    """Upright regions from person boxes (N, 4) xyxy image pixels: centred on the box, side the
    box's longer side times MediaPipe's pose scale (a box says nothing about the body's tilt).
    Degenerate boxes (no area) are skipped."""
    out = []
    for box in np.asarray(boxes, np.float64).reshape(-1, 4):
        if box[2] > box[0] and box[3] > box[1] and np.isfinite(box).all():
            out.append(roi_from_box(box, np.zeros(2), np.array([1.0, 0.0]), scale=pose.ROI_SCALE))
    return out


@dataclass
class Track:
    """One source's tracked regions: ``rois`` for its next frame and frames since the detector last ran."""

    rois: list[Roi]
    since_detect: int = 0


class RegionTracker:
    """Regions per source (``frame.source_id``) carried from frame t's landmarks to frame t + 1.

    A source's frame re-runs the detector when the source has no track, when its track lost
    every person (pose presence under the threshold), or every ``redetect_every`` frames (a
    person who walks in is found then). Deterministic in frame order: the same frames in the
    same order give the same regions.
    """

    def __init__(self, redetect_every: int) -> None:
        if redetect_every < 1:
            raise ValueError(f"redetect_every: expected >= 1, got {redetect_every}")
        self.redetect_every = redetect_every
        self._tracks: dict[str, Track] = {}

    def regions(self, source: str) -> list[Roi] | None:
        """The regions to use for this source's next frame, or None: run the detector."""
        track = self._tracks.get(source)
        if track is None or not track.rois or track.since_detect >= self.redetect_every:
            return None
        return list(track.rois)

    def update(self, source: str, rois: list[Roi], detected: bool) -> None:
        """Record the regions for the source's next frame (from this frame's kept landmarks)."""
        since = 0 if detected else self._tracks.get(source, Track([])).since_detect
        self._tracks[source] = Track(list(rois), since + 1)

    def reset(self, source: str | None = None) -> None:
        """Forget one source's track, or every track."""
        if source is None:
            self._tracks.clear()
        else:
            self._tracks.pop(source, None)
