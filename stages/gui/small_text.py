"""A second OCR pass for small text, only where the first one read too little.

Detection runs on a shrunk screen (its longer side at ``max_side``), so 20 px text on a
1080-wide phone screen ends 13 px tall and is often not found at all, and dim text on a
coloured button ("FAN") is missed at any size. The backend calls this pass only when the
first did not find the asked label whole; it re-reads, at ``scale`` times their size, the
square tiles that hold the most edges no OCR line explains (text or icons nobody read), at
most ``max_tiles`` of them. Pure planning here (:func:`tiles_to_reread`,
:func:`upscale`, :func:`to_screen`); the reading is the caller's engine.
"""

from __future__ import annotations

import cv2
import numpy as np

from sensorium.stages.gui.ocr_text import TextBox

Tile = tuple[int, int, int, int]


def tiles_to_reread(image: np.ndarray, texts: list[TextBox], *, max_tiles: int = 3, min_edges: float = 0.01) -> list[Tile]:
    """Up to ``max_tiles`` square tiles (x1, y1, x2, y2) of an (H, W, 3) uint8 image, side half
    its shorter side, overlapping by a quarter, with the most edge pixels outside every OCR box
    (at least ``min_edges`` of the tile's area), most first."""
    h, w = image.shape[:2]
    side = max(32, min(h, w) // 2)
    edges = cv2.Canny(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 60, 160)
    for t in texts:  # what the first pass read is explained
        x1, y1, x2, y2 = (int(round(v)) for v in t.box)
        edges[max(0, y1 - 2):y2 + 2, max(0, x1 - 2):x2 + 2] = 0
    integral = cv2.integral((edges > 0).astype(np.uint8))
    step = max(16, side * 3 // 4)
    scored = []
    for y in range(0, max(1, h - side + step), step):
        for x in range(0, max(1, w - side + step), step):
            x1, y1 = min(x, max(0, w - side)), min(y, max(0, h - side))
            x2, y2 = min(w, x1 + side), min(h, y1 + side)
            n = integral[y2, x2] - integral[y1, x2] - integral[y2, x1] + integral[y1, x1]
            if n >= min_edges * (x2 - x1) * (y2 - y1):
                scored.append((int(n), (x1, y1, x2, y2)))
    scored.sort(key=lambda s: -s[0])
    return list(dict.fromkeys(t for _, t in scored))[:max_tiles]


def upscale(image: np.ndarray, tile: Tile, scale: float) -> np.ndarray:
    """The tile's pixels, ``scale`` times larger (cubic), contiguous."""
    x1, y1, x2, y2 = tile
    crop = image[y1:y2, x1:x2]
    return np.ascontiguousarray(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC))


def to_screen(texts: list[TextBox], tile: Tile, scale: float) -> list[TextBox]:
    """Lines read on an upscaled tile, boxes back in screen pixels."""
    x1, y1 = tile[0], tile[1]
    return [TextBox(t.text, (x1 + t.box[0] / scale, y1 + t.box[1] / scale, x1 + t.box[2] / scale, y1 + t.box[3] / scale), t.score)
            for t in texts]


def add_new(first: list[TextBox], second: list[TextBox]) -> list[TextBox]:
    """``first`` plus the lines of ``second`` whose centre lies in no line of ``first`` (the
    tiles re-read some text the first pass had)."""
    def covered(t: TextBox) -> bool:
        cx, cy = (t.box[0] + t.box[2]) / 2, (t.box[1] + t.box[3]) / 2
        return any(f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3] for f in first)

    return first + [t for t in second if not covered(t)]
