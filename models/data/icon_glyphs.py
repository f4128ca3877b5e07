"""Material-like icon glyphs drawn with OpenCV in a unit square, one function per icon class.

Each glyph is drawn by a :class:`Pen` centred on the tile with half-size ``r``: coordinates
are in [-1, 1] (y down), so a glyph is independent of the tile's size, line width and
style. ``Pen.filled`` picks Material's filled or outlined variant, ``Pen.variant`` (in
[0, 1)) the alternative shapes one name has in real apps (a back arrow or a chevron, vertical
or horizontal "more" dots). Images are RGB uint8 (H, W, 3), drawn in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

_SHIFT = 4  # sub-pixel drawing: coordinates in 1/16 px
_F = 1 << _SHIFT
_AA = cv2.LINE_AA


@dataclass
class Pen:
    """Draws unit-square shapes onto ``img`` at (cx, cy) with half-size r; t is the line width
    (canvas px)."""

    img: np.ndarray
    cx: float
    cy: float
    r: float
    colour: tuple[int, ...]
    bg: tuple[int, ...]
    t: int
    filled: bool
    variant: float = 0.0

    def pts(self, unit) -> np.ndarray:
        """Unit-square coordinates → cv2 fixed-point pixel coordinates, (N, 2) int32."""
        return np.round((np.asarray(unit, np.float64) * self.r + [self.cx, self.cy]) * _F).astype(np.int32)

    def poly(self, unit, fill: bool | None = None, closed: bool = True, colour: tuple[int, ...] | None = None) -> None:
        c = self.colour if colour is None else colour
        if self.filled if fill is None else fill:
            cv2.fillPoly(self.img, [self.pts(unit)], c, _AA, _SHIFT)
        else:
            cv2.polylines(self.img, [self.pts(unit)], closed, c, self.t, _AA, _SHIFT)

    def line(self, a, b, scale: float = 1.0) -> None:
        p = self.pts([a, b])
        cv2.line(self.img, tuple(p[0]), tuple(p[1]), self.colour, max(1, int(self.t * scale)), _AA, _SHIFT)

    def circle(self, x: float, y: float, rad: float, fill: bool = False, colour: tuple[int, ...] | None = None) -> None:
        c = self.colour if colour is None else colour
        cv2.circle(self.img, tuple(self.pts([x, y])), int(rad * self.r * _F), c, -1 if fill else self.t, _AA, _SHIFT)

    def arc(self, x: float, y: float, rad: float, start: float, end: float) -> None:
        """An open arc from ``start`` to ``end`` degrees (clockwise on screen)."""
        a = np.radians(np.linspace(start, end, 32))
        self.poly(np.stack([x + rad * np.cos(a), y + rad * np.sin(a)], 1), fill=False, closed=False)


def _star(points: int, inner: float) -> np.ndarray:
    ang = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    rad = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)


def _gear(p: Pen) -> None:
    teeth, out = 8, []
    for i in range(teeth):
        a = 2 * np.pi * i / teeth
        out.extend((np.cos(a + da) * rad, np.sin(a + da) * rad) for da, rad in ((-0.26, 0.7), (-0.17, 1.0), (0.17, 1.0), (0.26, 0.7)))
    p.poly(np.array(out), fill=True)
    p.circle(0, 0, 0.32 if p.filled else 0.4, fill=True, colour=p.bg)
    if not p.filled:
        p.circle(0, 0, 0.62, fill=True, colour=p.bg)  # outlined: a ring with teeth
        p.circle(0, 0, 0.3)


def _search(p: Pen) -> None:
    p.circle(-0.2, -0.2, 0.55)
    p.line((0.2, 0.2), (0.9, 0.9), 1.6)


def _heart(p: Pen) -> None:
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    p.poly(np.stack([x / 17, (y - 2.5) / 15.5], 1))  # y spans -11.9..17: centred, within [-0.93, 0.93]


def _home(p: Pen) -> None:
    p.poly([[0, -0.95], [0.95, -0.05], [0.7, -0.05], [0.7, 0.9], [-0.7, 0.9], [-0.7, -0.05], [-0.95, -0.05]])
    if p.filled:  # a door cut out of the house
        p.poly([[-0.2, 0.9], [-0.2, 0.35], [0.2, 0.35], [0.2, 0.9]], fill=True, colour=p.bg)


def _trash(p: Pen) -> None:
    p.line((-0.85, -0.6), (0.85, -0.6))
    p.poly([[-0.3, -0.6], [-0.3, -0.9], [0.3, -0.9], [0.3, -0.6]], fill=False, closed=False)
    p.poly([[-0.65, -0.45], [0.65, -0.45], [0.5, 0.95], [-0.5, 0.95]])
    if not p.filled:
        p.line((0, -0.2), (0, 0.7))


def _bell(p: Pen) -> None:
    t = np.linspace(np.pi, 2 * np.pi, 16)
    dome = np.stack([0.55 * np.cos(t), -0.15 + 0.65 * np.sin(t)], 1)  # left to right over the top
    p.poly(np.concatenate([dome, [[0.6, 0.45], [0.85, 0.62], [-0.85, 0.62], [-0.6, 0.45]]]))
    p.circle(0, 0.82, 0.16, fill=True)


def _mail(p: Pen) -> None:
    p.poly([[-0.95, -0.65], [0.95, -0.65], [0.95, 0.65], [-0.95, 0.65]])
    p.poly([[-0.95, -0.65], [0, 0.1], [0.95, -0.65]], fill=False, closed=False, colour=p.bg if p.filled else p.colour)


def _plus(p: Pen) -> None:
    p.line((0, -0.85), (0, 0.85), 1.4)
    p.line((-0.85, 0), (0.85, 0), 1.4)


def _minus(p: Pen) -> None:
    p.line((-0.85, 0), (0.85, 0), 1.4)


def _close(p: Pen) -> None:
    p.line((-0.7, -0.7), (0.7, 0.7), 1.4)
    p.line((-0.7, 0.7), (0.7, -0.7), 1.4)


def _arrow(p: Pen) -> None:
    p.line((-0.9, 0), (0.75, 0), 1.3)
    p.poly([[0.25, -0.55], [0.9, 0], [0.25, 0.55]], fill=False, closed=False)


def _back(p: Pen) -> None:
    """Android's "navigate up": a left arrow, or (a third of the time) a bare chevron."""
    if p.variant < 0.3:
        p.poly([[0.3, -0.75], [-0.35, 0], [0.3, 0.75]], fill=False, closed=False)
        return
    p.line((0.9, 0), (-0.75, 0), 1.3)
    p.poly([[-0.25, -0.6], [-0.9, 0], [-0.25, 0.6]], fill=False, closed=False)


def _menu(p: Pen) -> None:
    for y in (-0.6, 0, 0.6):
        p.line((-0.85, y), (0.85, y), 1.3)


def _more(p: Pen) -> None:
    """Three dots, vertical (Android's overflow) or, a quarter of the time, horizontal."""
    for d in (-0.65, 0, 0.65):
        x, y = (d, 0) if p.variant < 0.25 else (0, d)
        p.circle(x, y, 0.17, fill=True)


def _user(p: Pen) -> None:
    p.circle(0, -0.45, 0.38, fill=p.filled)
    t = np.linspace(np.pi, 2 * np.pi, 16)
    p.poly(np.stack([0.8 * np.cos(t), 0.95 + 0.8 * np.sin(t)], 1))


def _share(p: Pen) -> None:
    nodes = [(0.55, -0.62), (-0.55, 0), (0.55, 0.62)]
    p.line(nodes[0], nodes[1])
    p.line(nodes[1], nodes[2])
    for x, y in nodes:
        p.circle(x, y, 0.24, fill=True)
        if not p.filled:
            p.circle(x, y, 0.12, fill=True, colour=p.bg)


def _edit(p: Pen) -> None:
    body = [[-0.85, 0.85], [-0.78, 0.45], [0.42, -0.75], [0.75, -0.42], [-0.45, 0.78]]  # a pencil, tip bottom left
    p.poly(body)
    p.line((0.22, -0.55), (0.55, -0.22))


def _refresh(p: Pen) -> None:
    p.arc(0, 0, 0.72, -60, 250)
    a = np.radians(-60)
    tip = np.array([0.72 * np.cos(a), 0.72 * np.sin(a)])
    p.poly([tip + [0.1, -0.45], tip + [0.25, 0.2], tip + [-0.4, 0.05]], fill=True)


def _play(p: Pen) -> None:
    p.poly([[-0.55, -0.8], [0.8, 0], [-0.55, 0.8]])


def _pause(p: Pen) -> None:
    for x in (-0.55, 0.15):
        p.poly([[x, -0.75], [x + 0.4, -0.75], [x + 0.4, 0.75], [x, 0.75]])


def _check(p: Pen) -> None:
    p.poly([[-0.85, 0.05], [-0.3, 0.6], [0.85, -0.6]], fill=False, closed=False)


def _lock(p: Pen) -> None:
    cv2.ellipse(p.img, tuple(p.pts([0, -0.25])), (int(0.45 * p.r * _F), int(0.55 * p.r * _F)), 0, 180, 360, p.colour, p.t, _AA, _SHIFT)
    p.poly([[-0.7, -0.2], [0.7, -0.2], [0.7, 0.9], [-0.7, 0.9]])


def _location(p: Pen) -> None:
    """Material's "my location": a ring with a centre dot and four ticks."""
    p.circle(0, 0, 0.58)
    p.circle(0, 0, 0.22, fill=True)
    for a, b in (((0, -0.58), (0, -0.95)), ((0, 0.58), (0, 0.95)), ((-0.58, 0), (-0.95, 0)), ((0.58, 0), (0.95, 0))):
        p.line(a, b)


def _star_glyph(p: Pen) -> None:
    p.poly(_star(5, 0.42))


#: icon class → how it is drawn
GLYPHS: dict[str, Callable[[Pen], None]] = {
    "gear": _gear, "search": _search, "heart": _heart, "star": _star_glyph, "home": _home, "trash": _trash,
    "bell": _bell, "mail": _mail, "plus": _plus, "close": _close, "arrow": _arrow, "menu": _menu, "user": _user,
    "play": _play, "check": _check, "lock": _lock, "more": _more, "back": _back, "minus": _minus, "share": _share,
    "edit": _edit, "refresh": _refresh, "pause": _pause, "location": _location,
}
