"""The OCR engine of the local GUI backend: RapidOCR's PP-OCR detection and recognition ONNX
models (bundled in the ``rapidocr`` wheel, run by onnxruntime, offline), read for screens.

Screens are not photos: text is upright, so the angle classifier that RapidOCR runs on every
line by default is off (it only ever finds 0 degrees here and costs a model call per batch),
and recognition runs in larger batches (fewer session calls for a screen of 50-150 lines).
Each read records where its time went (``det``, ``rec``, in ms) so a request's cost can be
broken down.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from sensorium.stages.gui.ocr_text import TextBox


class ScreenReader:
    """``read(image) -> [TextBox]`` for (H, W, 3) uint8 RGB images. max_side: detection's
    longer side (larger images are shrunk for detection only; recognition reads the lines at
    full resolution); rec_batch: lines per recognition call. Not re-entrant: one call at a
    time (onnxruntime sessions here are shared), guarded by a lock."""

    def __init__(self, *, max_side: int = 800, rec_batch: int = 16) -> None:
        self.max_side = max_side
        self.rec_batch = rec_batch
        self._ocr: Any = None
        self._lock = threading.Lock()

    def _engine(self) -> Any:
        if self._ocr is None:
            from rapidocr import RapidOCR

            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            self._ocr = RapidOCR(params={"Global.log_level": "warning", "Global.use_cls": False,
                                         "Det.limit_side_len": self.max_side, "Det.limit_type": "max",
                                         "Rec.rec_batch_num": self.rec_batch})
        return self._ocr

    def load(self) -> None:
        """Build the engine and run it once, so a service's first request does not pay for it."""
        self.read(np.full((64, 256, 3), 255, np.uint8), {})

    def read(self, image: np.ndarray, timings: dict[str, float]) -> list[TextBox]:
        """OCR lines of an (H, W, 3) uint8 RGB image, boxes in its pixels. Adds the detection
        and recognition milliseconds to ``timings`` (keys ``det``, ``rec``)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        with self._lock:
            engine = self._engine()
            t0 = time.perf_counter()
            result = engine(np.ascontiguousarray(image[..., ::-1]))
            total = (time.perf_counter() - t0) * 1e3
        elapse = list(getattr(result, "elapse_list", None) or [])
        det = float(elapse[0] or 0) * 1e3 if elapse else total
        timings["det"] = timings.get("det", 0.0) + det
        timings["rec"] = timings.get("rec", 0.0) + max(0.0, total - det)
        if result is None or getattr(result, "boxes", None) is None or getattr(result, "txts", None) is None:
            return []
        out = []
        for quad, text, score in zip(result.boxes, result.txts, result.scores):
            q = np.asarray(quad, np.float32)
            box = (float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max()))
            out.append(TextBox(str(text).strip(), box, float(score)))
        return [t for t in out if t.text]
