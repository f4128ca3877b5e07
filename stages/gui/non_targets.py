"""Parts of a screenshot where no app element can be, whatever they look like: the phone's
status bar (the system's top strip of clock, battery and notification glyphs, never an app's
button), shapes inside photos, maps and illustrations, and the middle of a text-entry box
(its caret, its text). An icon candidate there is dropped before any model scores it, so a
status-bar glyph or an arrow drawn in a photo cannot be clicked for "Navigate up".

Found from the image alone, not from any platform's pixel rows: a portrait screen whose top
rows are plain background, then one row of small glyphs (their height 2.5-5 % of the width,
as Android's 24 dp bar on a 360-411 dp wide phone draws them) reaching the right end (the
clock and battery sit there) and nothing wider than a clock, then background again. Web and
desktop screens (landscape, or a page's own toolbar, taller and with a title) have none.

An icon sits on a plain surface (a bar, a button, the page): most of the ring around it is
one colour, or two where a button fills its bar and the ring crosses into the page. A shape
in a photo or a map has a ring of many colours. :data:`PLAIN` was set on the icons of 20
generated web pages (split 1: 94 of 94 kept) and 30 generated toolbars (180 of 180) against
the 2,948 shapes the candidate finder sees in the real photos of ``$SENSORIUM_DATA/photos``
and ``faces`` (53 % dropped; 0.8 drops 62 % but loses a toolbar icon).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

Box = tuple[int, int, int, int]

#: the glyph row's top and height as fractions of the screen's width (Android: 24 dp bar,
#: glyphs about 3 dp below its top and 13-16 dp tall, on phones 360-411 dp wide)
TOP = (0.002, 0.02)
HEIGHT = (0.025, 0.05)
#: a pixel differs from the strip's background by more than this (0-255, any channel): ink
INK = 48
#: share of the ring around a candidate (a square of 1.6 x its side) within :data:`TOLERANCE`
#: of the ring's median colour, below which it sits in a photo or an illustration
PLAIN = 0.7
TOLERANCE = 16


def status_bar(image: np.ndarray) -> int:
    """The bottom row (exclusive, pixels) of the status bar of an (H, W, 3) uint8 screenshot,
    0 when it has none. The bar ends below its glyph row by the row's distance from the top."""
    h, w = image.shape[:2]
    if image.ndim != 3 or h < 1.4 * w:  # phones in portrait only
        return 0
    band = image[: int(round(0.1 * w))].astype(np.int16)  # (B, W, 3)
    first = max(1, int(TOP[0] * w))
    bg = np.median(band[first: first + 2].reshape(-1, 3), 0)
    ink = np.abs(band - bg).max(2) > INK  # (B, W)
    on = ink.mean(1) > 0.003
    on[:first] = False  # a hairline at the very top is the screen's edge, not a glyph
    ys = np.flatnonzero(on)
    if not len(ys):
        return 0
    top = int(ys[0])
    bottom = top
    while bottom < len(on) and on[bottom]:
        bottom += 1
    gap = max(2, int(0.004 * w))
    if not (TOP[0] * w <= top <= TOP[1] * w and HEIGHT[0] * w <= bottom - top <= HEIGHT[1] * w):
        return 0
    if on[bottom: bottom + gap].any() or len(on) - bottom < gap:  # background again below the row
        return 0
    row = ink[top:bottom]
    if row[:, int(0.8 * w):].mean() < 0.05:  # nothing at the right end: no clock or battery
        return 0
    n, _, stats, _ = cv2.connectedComponentsWithStats(row.astype(np.uint8), connectivity=8)
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    if n - 1 < 3 or widths.max() > 0.12 * w:  # a few small glyphs, no title or search field
        return 0
    return min(h, bottom + top)


def outside_status_bar(boxes: Sequence[Box], bottom: int) -> list[int]:
    """Indices of the boxes (xyxy) whose centre lies below a status bar ending at ``bottom``."""
    return [i for i, b in enumerate(boxes) if (b[1] + b[3]) / 2 >= bottom]


def on_plain_surface(image: np.ndarray, box: Sequence[float]) -> bool:
    """Whether the ring around ``box`` (xyxy pixels of an (H, W, 3) uint8 image; the border of
    a square of 1.6 x its longer side, edge pixels repeated beyond the image) is mostly one
    colour, or two (a bar and the page beside it): a UI surface, not a photo or a map."""
    h, w = image.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(2, int(round(0.8 * max(box[2] - box[0], box[3] - box[1]))))
    xs = np.clip(np.arange(int(cx) - half, int(cx) + half + 1), 0, w - 1)
    ys = np.clip(np.arange(int(cy) - half, int(cy) + half + 1), 0, h - 1)
    ring = np.concatenate([image[ys[0], xs], image[ys[-1], xs], image[ys, xs[0]], image[ys, xs[-1]]]).astype(np.int16)  # (P, 3)
    near = np.abs(ring - np.median(ring, 0)).max(1) <= TOLERANCE
    if near.mean() >= PLAIN:
        return True
    # a button filling its bar: the ring crosses into the surface beside the bar, a second plain colour
    rest = ring[~near]
    return float(near.mean() + (np.abs(rest - np.median(rest, 0)).max(1) <= TOLERANCE).mean() * (1 - near.mean())) >= PLAIN


def entry_boxes(elements: Sequence[Sequence[float]], text_boxes: Sequence[Sequence[float]]) -> list[Sequence[float]]:
    """The text-entry boxes among ``elements`` (xyxy): at least 4 times as wide as tall and
    holding a word (``text_boxes``: its text or placeholder)."""
    return [e for e in elements if e[2] - e[0] >= 4 * (e[3] - e[1]) and
            any(e[0] <= (t[0] + t[2]) / 2 <= e[2] and e[1] <= (t[1] + t[3]) / 2 <= e[3] for t in text_boxes)]


def in_entry_middle(box: Sequence[float], entries: Sequence[Sequence[float]]) -> bool:
    """Whether ``box`` lies inside one of the text-entry boxes ``entries`` (:func:`entry_boxes`)
    away from its ends, where its caret and letters are; a search field's magnifier or clear
    button sits within one height of an end."""
    cx = (box[0] + box[2]) / 2
    return any(e[0] <= box[0] and e[1] <= box[1] and box[2] <= e[2] and box[3] <= e[3] and
               e[0] + (e[3] - e[1]) <= cx <= e[2] - (e[3] - e[1]) for e in entries)
