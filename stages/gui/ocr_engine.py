"""PP-OCR detection and recognition run by our own onnxruntime sessions, shaped for screens.

The ONNX models and their pre/post-processing are RapidOCR's (bundled in the ``rapidocr``
wheel, offline); the driving is ours, because RapidOCR's wrapper spends a screen's time where
a screen has nothing to read:

- detection runs only on the bands of the screen that hold content (a form page at 1920x1080
  is mostly empty background), at the scale the whole screen would get, so text is found at
  the same size as before; bands are padded with real pixels around them;
- recognition pads each line to its own width rounded up to ``rec_step`` px (RapidOCR pads
  every line of a batch to the widest one and to at least 320 px, so "OK" costs as much as a
  sentence); lines of the same padded width share a batch, so a line's result depends on its
  own pixels only, never on its neighbours;
- sessions use ``threads`` intra-op threads, one inter-op thread, all graph optimisations and
  no spin-waiting (a spinning pool burns the cores other requests and processes need).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
REC_HEIGHT = 48


@dataclass(frozen=True)
class OcrConfig:
    """max_side: detection's longer side for the whole screen (larger screens are shrunk for
    detection only); threads: intra-op threads per session; rec_step: recognition input widths
    are multiples of it; rec_batch: lines per recognition call; min_score: lines read with a
    lower confidence are dropped (RapidOCR's ``text_score``); band_pad: background pixels (at
    detection scale) kept around each content band; min_contrast: grey-level step that counts
    as content."""

    max_side: int = 800
    threads: int = 2
    rec_step: int = 32
    rec_batch: int = 16
    min_score: float = 0.5
    band_pad: int = 64
    min_contrast: int = 12

    def __post_init__(self) -> None:
        if self.max_side < 32 or self.threads < 1 or self.rec_step < 8 or self.rec_batch < 1:
            raise ValueError(f"expected max_side >= 32, threads >= 1, rec_step >= 8, rec_batch >= 1, got {self}")


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def content_bands(small: np.ndarray, pad: int, min_contrast: int) -> list[tuple[int, int, int, int]]:
    """Rectangles (x1, y1, x2, y2) of an (h, w, 3) uint8 image that hold everything not flat
    background: rows with content grouped into bands (gaps under 2 * ``pad`` rows join), each
    cut to its columns with content, grown by ``pad`` and to multiples of 32 (the detector's
    stride) inside the image where it can. Empty for a flat image."""
    h, w = small.shape[:2]
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    grad = cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) >= min_contrast
    rows = np.flatnonzero(grad.any(axis=1))
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) > 2 * pad)
    starts, ends = np.r_[rows[0], rows[breaks + 1]], np.r_[rows[breaks], rows[-1]]
    bands = []
    for y1, y2 in zip(starts, ends):
        cols = np.flatnonzero(grad[y1:y2 + 1].any(axis=0))
        x1, x2 = _grow(int(cols[0]) - pad, int(cols[-1]) + 1 + pad, w)
        y1, y2 = _grow(int(y1) - pad, int(y2) + 1 + pad, h)
        bands.append((x1, y1, x2, y2))
    return bands


def _grow(a: int, b: int, size: int) -> tuple[int, int]:
    """[a, b) clipped to [0, size) and grown to a multiple of 32 where the image allows."""
    a, b = max(0, a), min(size, b)
    extra = -(b - a) % 32
    b2 = min(size, b + extra)
    return max(0, a - (extra - (b2 - b))), b2


def rec_input(crop: np.ndarray, width: int) -> np.ndarray:
    """A (3, 48, width) float32 recognition input from an (h, w, 3) uint8 BGR line crop: the
    crop resized to height 48 keeping its aspect (at most ``width`` wide), scaled to [-1, 1],
    zero-padded on the right (RapidOCR's ``resize_norm_img``)."""
    h, w = crop.shape[:2]
    resized_w = min(width, math.ceil(REC_HEIGHT * w / h))
    img = cv2.resize(crop, (resized_w, REC_HEIGHT)).astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    out = np.zeros((3, REC_HEIGHT, width), np.float32)
    out[:, :, :resized_w] = img
    return out


class OcrEngine:
    """``detect(bgr) -> (N, 4, 2) quads`` and ``recognise(crops) -> [(text, score)]``, the two
    halves of PP-OCR for screens; sessions are built on first use. Not re-entrant."""

    def __init__(self, config: OcrConfig) -> None:
        self.config = config
        self._det: Any = None
        self._rec: Any = None

    @property
    def loaded(self) -> bool:
        """Whether both sessions are built (a service builds them at start, not in a request)."""
        return self._det is not None and self._rec is not None

    def _load(self) -> None:
        if self._det is not None:
            return
        import rapidocr
        from rapidocr.ch_ppocr_det.utils import DBPostProcess
        from rapidocr.ch_ppocr_rec.utils import CTCLabelDecode

        models = Path(rapidocr.__file__).parent / "models"
        self._det = _session(models / DET_MODEL, self.config.threads)
        self._rec = _session(models / REC_MODEL, self.config.threads)
        keys = self._rec.get_modelmeta().custom_metadata_map["character"].splitlines()
        # RapidOCR's defaults for PP-OCR detection (config.yaml, Det)
        self._post = DBPostProcess(thresh=0.3, box_thresh=0.5, max_candidates=1000, unclip_ratio=1.6,
                                   score_mode="fast", use_dilation=True)
        self._decode = CTCLabelDecode(character=keys)

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        """Text line quads (N, 4, 2) float32 in the (H, W, 3) uint8 BGR image's pixels, top to
        bottom then left to right; detection sees the image shrunk to ``max_side``."""
        self._load()
        h, w = bgr.shape[:2]
        scale = min(1.0, self.config.max_side / max(h, w))
        sw, sh = max(32, round(w * scale / 32) * 32), max(32, round(h * scale / 32) * 32)
        small = cv2.resize(bgr, (sw, sh)) if (sw, sh) != (w, h) else bgr
        fx, fy = w / sw, h / sh
        quads = []
        for x1, y1, x2, y2 in content_bands(small, self.config.band_pad, self.config.min_contrast):
            crop = small[y1:y2, x1:x2]
            pad_b, pad_r = -crop.shape[0] % 32, -crop.shape[1] % 32
            if pad_b or pad_r:  # a band smaller than the stride
                crop = cv2.copyMakeBorder(crop, 0, pad_b, 0, pad_r, cv2.BORDER_REPLICATE)
            x = (crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0)
            pred = self._det.run(None, {self._det.get_inputs()[0].name: x})[0]
            boxes, _ = self._post(pred, (crop.shape[0] * fy, crop.shape[1] * fx))
            for b in boxes:
                quads.append(b.astype(np.float32) + np.float32([x1 * fx, y1 * fy]))
        if not quads:
            return np.zeros((0, 4, 2), np.float32)
        from rapidocr.ch_ppocr_det.main import TextDetector

        q = np.stack(quads)
        q[..., 0], q[..., 1] = q[..., 0].clip(0, w), q[..., 1].clip(0, h)
        return TextDetector.sorted_boxes(q)

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Text and confidence of each (h, w, 3) uint8 BGR line crop, in order. Each crop is
        padded to its own width rounded up to ``rec_step``; crops of one width share calls."""
        self._load()
        step = self.config.rec_step
        widths = [max(step, math.ceil(REC_HEIGHT * c.shape[1] / c.shape[0] / step) * step) for c in crops]
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for width in sorted(set(widths)):
            idx = [i for i, wd in enumerate(widths) if wd == width]
            for k in range(0, len(idx), self.config.rec_batch):
                part = idx[k:k + self.config.rec_batch]
                x = np.stack([rec_input(crops[i], width) for i in part])
                preds = self._rec.run(None, {self._rec.get_inputs()[0].name: x})[0]
                lines, _ = self._decode(preds)
                for i, (text, score) in zip(part, lines):
                    out[i] = (text, float(score))
        return out
