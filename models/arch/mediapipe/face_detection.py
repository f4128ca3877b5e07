"""MediaPipe's short-range face detector (BlazeFace, 128x128): anchors, decoding, weighted NMS.

Reimplemented in numpy from what MediaPipe's graph for this model configures (its
``face_detection_short_range`` graph): ``SsdAnchorsCalculator`` (4 layers, strides 8/16/16/16,
fixed-size anchors: only centres matter, 2 per cell at stride 8 and 6 per cell at stride 16 ->
512 + 384 = 896), ``TensorsToDetectionsCalculator`` (16 values per anchor: box centre offset
and size, then 6 keypoints, all in input pixels; sigmoid of the clipped logit as score), and
``NonMaxSuppressionCalculator`` in its WEIGHTED mode (BlazeFace's "blending": overlapping
detections are averaged by score instead of dropped). ``ImageToTensorCalculator`` letterboxes
with ``keep_aspect_ratio`` and scales pixels to [-1, 1]; detections are mapped back through the
letterbox to image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INPUT_SIZE = 128
NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion (subject's sides)
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_tragion", "left_tragion")


@dataclass(frozen=True)
class SsdAnchors:
    """The anchor layout of one SSD model, as ``SsdAnchorsCalculatorOptions`` gives it.

    Consecutive layers with the same stride share one feature map (MediaPipe's grouping);
    each layer contributes ``anchors_per_layer`` anchors per cell. Fixed-size anchors only:
    the models here regress sizes relative to the input, so an anchor is its centre.
    """

    input_size: tuple[int, int]  # (H, W)
    strides: tuple[int, ...]
    anchors_per_layer: int = 2  # aspect ratio 1.0 plus the interpolated scale
    offset: float = 0.5


FACE_SHORT_RANGE_ANCHORS = SsdAnchors(input_size=(INPUT_SIZE, INPUT_SIZE), strides=(8, 16, 16, 16))


def ssd_anchor_centres(spec: SsdAnchors) -> np.ndarray:
    """(A, 2) float32 anchor centres (x, y) in [0, 1] of the input, in the model's output order
    (per stride group: rows, then columns, then anchors of the cell)."""
    centres = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        group = 1
        while layer + group < len(spec.strides) and spec.strides[layer + group] == stride:
            group += 1
        rows, cols = -(-spec.input_size[0] // stride), -(-spec.input_size[1] // stride)
        ys, xs = np.meshgrid((np.arange(rows) + spec.offset) / rows, (np.arange(cols) + spec.offset) / cols, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1)  # (rows*cols, 2)
        centres.append(np.repeat(cell, group * spec.anchors_per_layer, axis=0))
        layer += group
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Where an image sits in the square input: ``input_px = image_px * (scale_x, scale_y) + (pad_x, pad_y)``
    (two scales: rounding the resized size makes them differ by under a pixel's worth)."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) input pixels -> image pixels."""
        return (points - np.array([self.pad_x, self.pad_y], np.float32)) / np.array([self.scale_x, self.scale_y], np.float32)


def letterbox(image_rgb: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, Letterbox]:
    """(H, W, 3) uint8 RGB -> ((size, size, 3) float32 in [-1, 1], its letterbox), the image
    centred with zero (black -> -1) borders, as MediaPipe's keep_aspect_ratio does."""
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 RGB image, got {image_rgb.shape} {image_rgb.dtype}")
    h, w = image_rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = cv2.resize(image_rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    pad_y, pad_x = (size - nh) // 2, (size - nw) // 2
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[pad_y:pad_y + nh, pad_x:pad_x + nw] = resized
    return canvas.astype(np.float32) / 127.5 - 1.0, Letterbox(nw / w, nh / h, float(pad_x), float(pad_y))


def decode(regressors: np.ndarray, classificators: np.ndarray, centres: np.ndarray, *,
           input_size: int = INPUT_SIZE, score_clip: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's raw outputs -> every anchor's (boxes (A, 4) xyxy, keypoints (A, K, 2), scores (A,)),
    coordinates in input pixels.

    regressors: (A, 4 + 2K) offsets in input pixels: box centre (x, y) from the anchor
    centre, box (w, h), then K keypoints (x, y) from the anchor centre. classificators: (A, 1)
    logits, clipped to +-score_clip before the sigmoid as MediaPipe does.
    """
    if regressors.ndim != 2 or regressors.shape[0] != len(centres) or (regressors.shape[1] - 4) % 2:
        raise ValueError(f"expected regressors ({len(centres)}, 4 + 2K), got {regressors.shape}")
    anchor_px = centres * input_size  # (A, 2)
    ctr = regressors[:, 0:2] + anchor_px
    half = regressors[:, 2:4] / 2
    boxes = np.concatenate([ctr - half, ctr + half], axis=1)
    keypoints = regressors[:, 4:].reshape(len(centres), -1, 2) + anchor_px[:, None, :]
    scores = 1.0 / (1.0 + np.exp(-np.clip(classificators.reshape(-1).astype(np.float64), -score_clip, score_clip)))
    return boxes.astype(np.float32), keypoints.astype(np.float32), scores.astype(np.float32)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, *, score_threshold: float = 0.5,
                 iou_threshold: float = 0.3, top_k: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend overlapping detections: the best remaining one and every candidate with IoU above
    ``iou_threshold`` with it are replaced by their score-weighted mean box and keypoints, with
    the best one's score. Returns (boxes (N, 4), keypoints (N, K, 2), scores (N,)), best first."""
    keep = scores >= score_threshold
    boxes, keypoints, scores = boxes[keep], keypoints[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")
    out_b, out_k, out_s = [], [], []
    while order.size and len(out_s) < top_k:
        overlap = _iou(boxes[order[0]], boxes[order]) > iou_threshold
        overlap[0] = True
        members = order[overlap]
        w = scores[members][:, None]
        out_b.append((boxes[members] * w).sum(0) / w.sum())
        out_k.append((keypoints[members] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[order[0]])
        order = order[~overlap]
    k = keypoints.shape[1]
    return (np.array(out_b, np.float32).reshape(-1, 4), np.array(out_k, np.float32).reshape(-1, k, 2),
            np.array(out_s, np.float32))


def to_image(boxes: np.ndarray, keypoints: np.ndarray, box: Letterbox) -> tuple[np.ndarray, np.ndarray]:
    """Input-pixel boxes (N, 4) and keypoints (N, K, 2) -> the original image's pixels."""
    b = box.to_image(boxes.reshape(-1, 2, 2)).reshape(-1, 4)
    return b.astype(np.float32), box.to_image(keypoints).astype(np.float32)
