"""The OCR engine of the local GUI backend, read for screens: PP-OCR detection then
recognition of each line (:mod:`sensorium.stages.gui.ocr_engine`), boxes in screen pixels.

Screens are not photos: text is upright, so no angle classifier runs (it only ever finds 0
degrees here and costs a model call per batch). Each read records where its time went
(``det``, ``rec``, in ms) so a request's cost can be broken down.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from sensorium.stages.gui.ocr_engine import OcrConfig, OcrEngine
from sensorium.stages.gui.ocr_text import TextBox


def line_crop(bgr: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The (h, w, 3) line of an image inside a detected quad (4, 2), warped upright
    (RapidOCR's crop, so recognition sees what it was tuned on)."""
    from rapidocr.utils.process_img import get_rotate_crop_image

    return get_rotate_crop_image(bgr, quad.astype(np.float32).copy())


class ScreenReader:
    """``read(image) -> [TextBox]`` for (H, W, 3) uint8 RGB images, configured by an
    :class:`OcrConfig` (``max_side``: detection's longer side). Not re-entrant: one call at a
    time (the onnxruntime sessions are shared), guarded by a lock."""

    def __init__(self, config: OcrConfig | None = None) -> None:
        self.config = config or OcrConfig()
        self.engine = OcrEngine(self.config)
        self._lock = threading.Lock()

    @property
    def max_side(self) -> int:
        return self.config.max_side

    @property
    def loaded(self) -> bool:
        return self.engine.loaded

    def load(self) -> None:
        """Build the sessions and run them once, so a service's first request does not pay for it."""
        image = np.full((64, 256, 3), 255, np.uint8)
        image[20:44, 20:200] = 0
        self.read(image, {})

    def read(self, image: np.ndarray, timings: dict[str, float]) -> list[TextBox]:
        """OCR lines of an (H, W, 3) uint8 RGB image, boxes in its pixels. Adds the detection
        and recognition milliseconds to ``timings`` (keys ``det``, ``rec``)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        with self._lock:
            t0 = time.perf_counter()
            bgr = np.ascontiguousarray(image[..., ::-1])
            quads = self.engine.detect(bgr)
            t1 = time.perf_counter()
            read = self.engine.recognise([line_crop(bgr, q) for q in quads])
            t2 = time.perf_counter()
        timings["det"] = timings.get("det", 0.0) + (t1 - t0) * 1e3
        timings["rec"] = timings.get("rec", 0.0) + (t2 - t1) * 1e3
        out = []
        for q, (text, score) in zip(quads, read):
            text = text.strip()
            if text and score >= self.config.min_score:
                box = (float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max()))
                out.append(TextBox(text, box, score))
        return out
