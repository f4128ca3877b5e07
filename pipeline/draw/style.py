"""Sizes and colours that scale with the image, and the few drawing helpers every annotator shares.

All images are (H, W, 3) uint8 RGB and colours RGB tuples. Sizes follow the shorter image side,
so a label is as legible on a 320x240 thumbnail as on a 4K frame: line width about 1/360 of it,
text about 1/45 of it tall (8 px at 240, 48 px at 2160).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

Color = tuple[int, int, int]

WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
RED: Color = (255, 40, 40)
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Style:
    """Line ``thickness`` (px), ``font_scale`` and ``text_thickness`` for one image size, and the
    resulting ``text_height`` (px, cap height) and ``pad`` around text."""

    thickness: int
    font_scale: float
    text_thickness: int
    text_height: int
    pad: int


@lru_cache(maxsize=64)
def _style(h: int, w: int, scale: float) -> Style:
    side = min(h, w) * scale
    font_scale = max(0.35, min(h, w) / 1000) * scale  # the floor keeps small images legible; the scale still multiplies it
    text_thickness = max(1, round(font_scale * 1.6))
    (_, th), _ = cv2.getTextSize("M", FONT, font_scale, text_thickness)
    return Style(max(1, round(side / 360)), font_scale, text_thickness, th, max(1, th // 3))


def style_for(image: np.ndarray, scale: float = 1.0) -> Style:
    """The :class:`Style` for ``image`` (cached per size); ``scale`` multiplies every size."""
    if not scale > 0:
        raise ValueError(f"style scale: expected > 0, got {scale}")
    return _style(int(image.shape[0]), int(image.shape[1]), float(scale))


class ColorLookup(StrEnum):
    """What picks an item's colour: its class, its track id, or its index in the result."""

    CLASS = "class"
    TRACK = "track"
    INDEX = "index"


def _golden_palette(n: int) -> np.ndarray:
    """(n, 3) uint8 RGB: hues a golden angle apart, so neighbouring ids never look alike."""
    hue = ((np.arange(n) * 0.618033988749895) % 1.0 * 179).astype(np.uint8)
    hsv = np.stack([hue, np.full(n, 220, np.uint8), np.full(n, 255, np.uint8)], axis=1)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]


#: the palette, computed once: ``palette(i)`` indexes it modulo its length
PALETTE = _golden_palette(64)


def palette(i: int) -> Color:
    """A distinct, stable RGB colour for class/track/instance number ``i``."""
    r, g, b = PALETTE[int(i) % len(PALETTE)]
    return int(r), int(g), int(b)


def pick_colors(lookup: ColorLookup, n: int, class_id: np.ndarray | None, track_id: np.ndarray | None) -> list[Color]:
    """One colour per item by ``lookup``; falls back to the index when the result lacks that field."""
    lookup = ColorLookup(lookup)
    if lookup is ColorLookup.TRACK and track_id is not None:
        keys = track_id
    elif lookup is ColorLookup.CLASS and class_id is not None:
        keys = class_id
    else:
        keys = np.arange(n)
    return [palette(int(k)) for k in keys]


def pt(xy: Any) -> tuple[int, int]:
    """A point as the integer pixel cv2 wants."""
    return int(round(float(xy[0]))), int(round(float(xy[1])))


def text_color_on(color: Color) -> Color:
    """Black on light backgrounds, white on dark ones."""
    return BLACK if 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2] > 140 else WHITE


def label(img: np.ndarray, text: str, xy: tuple[int, int], color: Color, style: Style, *, below: bool = False) -> None:
    """``text`` on a filled box of ``color`` whose bottom-left corner is ``xy`` (top-left with
    ``below``), moved inside the image when it would leave it."""
    (tw, th), base = cv2.getTextSize(text, FONT, style.font_scale, style.text_thickness)
    box_h = th + base + 2 * style.pad
    x = min(max(0, xy[0]), max(0, img.shape[1] - tw - 2 * style.pad))
    top = xy[1] if below else xy[1] - box_h
    if top < 0:
        top = xy[1] if not below else 0
    top = min(top, max(0, img.shape[0] - box_h))
    cv2.rectangle(img, (x, top), (x + tw + 2 * style.pad, top + box_h), color, -1)
    cv2.putText(img, text, (x + style.pad, top + style.pad + th), FONT, style.font_scale, text_color_on(color),
                style.text_thickness, cv2.LINE_AA)


def outlined_text(img: np.ndarray, text: str, xy: tuple[int, int], color: Color, style: Style) -> None:
    """``text`` with its baseline-left at ``xy``, in ``color`` with a dark outline (readable on any background)."""
    cv2.putText(img, text, xy, FONT, style.font_scale, BLACK, style.text_thickness + 2, cv2.LINE_AA)
    cv2.putText(img, text, xy, FONT, style.font_scale, color, style.text_thickness, cv2.LINE_AA)


class Translucent:
    """Shapes drawn on a copy of the box ``(x0, y0, x1, y1)`` of ``img`` and mixed back with
    opacity ``alpha`` on exit; only that box is copied and blended (a masked full-frame blend
    cost ~3 ms at VGA). Draw at coordinates minus :attr:`origin`::

        with Translucent(img, 0.35, (x0, y0, x1, y1)) as layer:
            cv2.ellipse(layer.image, (cx - layer.origin[0], cy - layer.origin[1]), ...)
    """

    def __init__(self, img: np.ndarray, alpha: float, box: tuple[float, float, float, float]) -> None:
        h, w = img.shape[:2]
        x0, y0 = max(0, int(np.floor(box[0])) - 1), max(0, int(np.floor(box[1])) - 1)
        x1, y1 = min(w, int(np.ceil(box[2])) + 2), min(h, int(np.ceil(box[3])) + 2)
        self.target, self.alpha = img[y0:max(y0, y1), x0:max(x0, x1)], float(alpha)
        self.image = self.target.copy()
        self.origin = np.array([x0, y0])

    def __enter__(self) -> "Translucent":
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None or self.target.size == 0:
            return
        # where nothing was drawn the two agree and a*x + (1-a)*x rounds back to x exactly: no mask needed
        cv2.addWeighted(self.image, self.alpha, self.target, 1.0 - self.alpha, 0.0, dst=self.target)
