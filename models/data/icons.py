"""Generated UI icons with captions: the data the GUI agent's icon grounding is trained and
measured on.

No CLIP/SigLIP weights or icon sets can be downloaded here, so the small embedding model the
local GUI backend ships with learns from this: line icons of common toolbar symbols (gear,
magnifier, heart, ...) drawn with OpenCV, outlined or filled, at native sizes from 16 to
64 px, in random colours on random backgrounds, bare or on a bordered button, off centre by a
few pixels, each captioned with one of its names in one of several phrasings ("an icon of a
gear", "settings icon"). A sample is a pure function of (seed, index), so a held-out split is
just another seed. Icons are drawn on a 4x canvas and shrunk with area averaging, the way a
browser anti-aliases an SVG at a small size; a crop is then resized to the model's input the
way the embed stage's pre-processing does, so training sees what inference sees.

Images are RGB uint8 (H, W, 3); boxes are int xyxy pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: icon class → the names a caption or an instruction may use for it
ICONS: dict[str, tuple[str, ...]] = {
    "gear": ("gear", "settings", "cog"),
    "search": ("magnifying glass", "search", "magnifier"),
    "heart": ("heart", "like", "favorite"),
    "star": ("star", "rating"),
    "home": ("house", "home"),
    "trash": ("trash bin", "trash can", "delete", "bin"),
    "bell": ("bell", "notifications"),
    "mail": ("envelope", "mail", "email"),
    "plus": ("plus", "add"),
    "close": ("cross", "close", "x"),
    "arrow": ("arrow", "next", "forward"),
    "menu": ("menu", "hamburger menu"),
    "user": ("user", "profile", "person", "account"),
    "play": ("play", "triangle play"),
    "check": ("check mark", "tick", "done"),
    "lock": ("lock", "padlock"),
}
CLASSES = tuple(ICONS)
TEMPLATES = ("an icon of a {}", "a {} icon", "{} icon", "the {} button", "{}", "a {} symbol")
_SHIFT = 4  # sub-pixel drawing: coordinates in 1/16 px
_F = 1 << _SHIFT


def _pts(unit: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    """Unit-square coordinates ([-1, 1], y down) → cv2 fixed-point pixel coordinates."""
    return np.round((np.asarray(unit, np.float64) * r + [cx, cy]) * _F).astype(np.int32)


def _star(points: int, inner: float) -> np.ndarray:
    ang = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    rad = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)


def _gear() -> np.ndarray:
    teeth, out = 8, []
    for i in range(teeth):
        a = 2 * np.pi * i / teeth
        for da, rad in ((-0.26, 0.7), (-0.17, 1.0), (0.17, 1.0), (0.26, 0.7)):
            out.append((np.cos(a + da) * rad, np.sin(a + da) * rad))
    return np.array(out)


def _heart() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x / 17, (y - 2.5) / 15.5], 1)  # y spans -11.9..17: centred, within [-0.93, 0.93]


def _bell() -> np.ndarray:
    t = np.linspace(np.pi, 2 * np.pi, 16)
    dome = np.stack([0.55 * np.cos(t), -0.15 + 0.65 * np.sin(t)], 1)  # left to right over the top
    return np.concatenate([dome, [[0.6, 0.45], [0.85, 0.62], [-0.85, 0.62], [-0.6, 0.45]]])


def _draw(img: np.ndarray, name: str, cx: float, cy: float, r: float, colour: tuple[int, ...], bg: tuple[int, ...],
          t: int, filled: bool) -> None:
    """Draw icon ``name`` centred at (cx, cy) with half-size r, line thickness t (canvas px)."""
    aa = cv2.LINE_AA

    def poly(unit: np.ndarray, fill: bool = filled, closed: bool = True) -> None:
        p = _pts(unit, cx, cy, r)
        if fill:
            cv2.fillPoly(img, [p], colour, aa, _SHIFT)
        else:
            cv2.polylines(img, [p], closed, colour, t, aa, _SHIFT)

    def line(a: tuple[float, float], b: tuple[float, float], w: int = t) -> None:
        p = _pts(np.array([a, b]), cx, cy, r)
        cv2.line(img, tuple(p[0]), tuple(p[1]), colour, w, aa, _SHIFT)

    def circle(x: float, y: float, rad: float, fill: bool = False, c: tuple[int, ...] = colour) -> None:
        cv2.circle(img, tuple(_pts(np.array([x, y]), cx, cy, r)), int(rad * r * _F), c, -1 if fill else t, aa, _SHIFT)

    if name == "gear":
        poly(_gear(), fill=True)
        circle(0, 0, 0.32 if filled else 0.4, fill=True, c=bg)
        if not filled:
            circle(0, 0, 0.62, fill=True, c=bg)  # outlined: a ring with teeth
            circle(0, 0, 0.3)
    elif name == "search":
        circle(-0.2, -0.2, 0.55)
        line((0.2, 0.2), (0.9, 0.9), int(t * 1.6))
    elif name == "heart":
        poly(_heart())
    elif name == "star":
        poly(_star(5, 0.42))
    elif name == "home":
        poly(np.array([[0, -0.95], [0.95, -0.05], [0.7, -0.05], [0.7, 0.9], [-0.7, 0.9], [-0.7, -0.05], [-0.95, -0.05]]))
        if filled:  # a door cut out of the house
            cv2.fillPoly(img, [_pts(np.array([[-0.2, 0.9], [-0.2, 0.35], [0.2, 0.35], [0.2, 0.9]]), cx, cy, r)], bg, aa, _SHIFT)
    elif name == "trash":
        line((-0.85, -0.6), (0.85, -0.6))
        poly(np.array([[-0.3, -0.6], [-0.3, -0.9], [0.3, -0.9], [0.3, -0.6]]), fill=False, closed=False)
        poly(np.array([[-0.65, -0.45], [0.65, -0.45], [0.5, 0.95], [-0.5, 0.95]]))
        if not filled:
            line((0, -0.2), (0, 0.7))
    elif name == "bell":
        poly(_bell())
        circle(0, 0.82, 0.16, fill=True)
    elif name == "mail":
        poly(np.array([[-0.95, -0.65], [0.95, -0.65], [0.95, 0.65], [-0.95, 0.65]]))
        c = bg if filled else colour
        p = _pts(np.array([[-0.95, -0.65], [0, 0.1], [0.95, -0.65]]), cx, cy, r)
        cv2.polylines(img, [p], False, c, t, aa, _SHIFT)
    elif name == "plus":
        line((0, -0.85), (0, 0.85), int(t * 1.4))
        line((-0.85, 0), (0.85, 0), int(t * 1.4))
    elif name == "close":
        line((-0.7, -0.7), (0.7, 0.7), int(t * 1.4))
        line((-0.7, 0.7), (0.7, -0.7), int(t * 1.4))
    elif name == "arrow":
        line((-0.9, 0), (0.75, 0), int(t * 1.3))
        poly(np.array([[0.25, -0.55], [0.9, 0], [0.25, 0.55]]), closed=False)
    elif name == "menu":
        for y in (-0.6, 0, 0.6):
            line((-0.85, y), (0.85, y), int(t * 1.3))
    elif name == "user":
        circle(0, -0.45, 0.38, fill=filled)
        t2 = np.linspace(np.pi, 2 * np.pi, 16)
        poly(np.stack([0.8 * np.cos(t2), 0.95 + 0.8 * np.sin(t2)], 1))
    elif name == "play":
        poly(np.array([[-0.55, -0.8], [0.8, 0], [-0.55, 0.8]]))
    elif name == "check":
        poly(np.array([[-0.85, 0.05], [-0.3, 0.6], [0.85, -0.6]]), fill=False, closed=False)
    elif name == "lock":
        cv2.ellipse(img, tuple(_pts(np.array([0, -0.25]), cx, cy, r)), (int(0.45 * r * _F), int(0.55 * r * _F)), 0, 180, 360,
                    colour, t, aa, _SHIFT)
        poly(np.array([[-0.7, -0.2], [0.7, -0.2], [0.7, 0.9], [-0.7, 0.9]]))
    else:
        raise ValueError(f"unknown icon {name!r}; expected one of {', '.join(CLASSES)}")


def _luma(c: np.ndarray) -> float:
    return float(c @ np.array([0.299, 0.587, 0.114]))


def _colours(rng: np.random.Generator, min_contrast: float = 90.0) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(foreground, background) RGB with at least ``min_contrast`` luma between them: an icon a
    designer would ship."""
    while True:
        fg, bg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if abs(_luma(fg) - _luma(bg)) >= min_contrast:
            return tuple(int(v) for v in fg), tuple(int(v) for v in bg)


def render_icon(name: str, size: int, fg: tuple[int, ...], bg: tuple[int, ...], rng: np.random.Generator, *,
                fill: float = 0.8, button: tuple[int, ...] | None = None) -> np.ndarray:
    """An icon on its own (size, size, 3) uint8 RGB tile: the glyph spans about ``fill`` of the
    tile, offset by up to 6 %; ``button`` draws a bordered button of that colour around it.
    Line width, filled/outlined style and offset are drawn from ``rng``."""
    k = 4  # drawn at 4x, shrunk with area averaging: anti-aliased like a browser's small SVG
    s = size * k
    canvas = np.empty((s, s, 3), np.uint8)
    canvas[:] = bg
    if button is not None:
        m = int(rng.uniform(0.0, 0.12) * s)  # a button crop taken with a margin shows page around the border
        bt = max(k, int(rng.uniform(0.6, 1.6) * k))
        cv2.rectangle(canvas, (m, m), (s - 1 - m, s - 1 - m), button, bt)
    cx, cy = (s / 2 + rng.uniform(-0.06, 0.06, 2) * s)
    r = fill * s / 2
    t = max(k, int(round(rng.uniform(1.2, 2.6) * k * max(1.0, size / 32) ** 0.5)))
    _draw(canvas, name, float(cx), float(cy), r, fg, bg, t, filled=bool(rng.random() < 0.4))
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


def to_model_size(tile: np.ndarray, size: int) -> np.ndarray:
    """A square tile resized to the model's side with the embed stage's interpolation (cubic up, area down)."""
    interp = cv2.INTER_CUBIC if size > tile.shape[0] else cv2.INTER_AREA
    return cv2.resize(tile, (size, size), interpolation=interp)


def icon_sample(seed: int, index: int, size: int = 64) -> tuple[np.ndarray, str, str]:
    """Sample ``index`` of split ``seed``: (image (size, size, 3) uint8 RGB, caption, class).

    The tile is what the GUI backend crops around a candidate icon: a bare glyph filling most
    of it, or a glyph on a button, at a native side of 16-64 px (log-uniform), then resized
    to ``size``."""
    rng = np.random.default_rng([seed, index])
    cls = CLASSES[int(rng.integers(len(CLASSES)))]
    native = int(round(np.exp(rng.uniform(np.log(16), np.log(64)))))
    fg, bg = _colours(rng)
    on_button = rng.random() < 0.4
    button = tuple(int(v) for v in rng.integers(0, 256, 3)) if on_button else None
    tile = render_icon(cls, native, fg, bg, rng, fill=rng.uniform(0.35, 0.62) if on_button else rng.uniform(0.62, 0.85), button=button)
    if rng.random() < 0.3:  # screenshot compression and scaling noise
        tile = np.clip(tile + rng.normal(0, 4, tile.shape), 0, 255).astype(np.uint8)
    names = ICONS[cls]
    caption = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(names[int(rng.integers(len(names)))])
    return to_model_size(tile, size), caption, cls


def icon_pairs(seed: int, n: int, size: int = 64) -> tuple[np.ndarray, list[str]]:
    """(images (n, size, size, 3) uint8 RGB, captions): the training pairs of split ``seed``."""
    images = np.zeros((n, size, size, 3), np.uint8)
    captions = []
    for i in range(n):
        images[i], caption, _ = icon_sample(seed, i, size)
        captions.append(caption)
    return images, captions


@dataclass(frozen=True)
class Toolbar:
    """A generated screenshot: image (H, W, 3) uint8 RGB; boxes (xyxy px) and classes of its
    icon buttons, in order; buttons: text button label → box."""

    image: np.ndarray
    boxes: list[tuple[int, int, int, int]]
    classes: list[str]
    buttons: dict[str, tuple[int, int, int, int]]


def toolbar_screen(seed: int, index: int, *, icons: int = 6, classes: tuple[str, ...] | None = None,
                   texts: tuple[str, ...] = ("Save", "Open"), width: int = 960, height: int = 540,
                   sizes: tuple[int, int] = (20, 40)) -> Toolbar:
    """Screenshot ``index`` of split ``seed``: a toolbar of ``icons`` distinct icon buttons (no
    text; ``classes`` names them, else they are drawn from the seed) and one text button per
    ``texts``, over a page with a heading and a paragraph. Icon sides are drawn from
    ``sizes`` (px), colours and layout from the seed."""
    rng = np.random.default_rng([seed, index, 7])
    page = tuple(int(v) for v in rng.integers(200, 256, 3))
    img = np.empty((height, width, 3), np.uint8)
    img[:] = page
    bar_h = sizes[1] + 24
    bar_bg = tuple(int(v) for v in rng.integers(150, 256, 3)) if rng.random() < 0.5 else tuple(int(v) for v in rng.integers(20, 90, 3))
    img[:bar_h] = bar_bg
    while True:
        fg, _ = _colours(rng)
        if abs(_luma(np.array(fg)) - _luma(np.array(bar_bg))) >= 90:
            break
    drawn = [CLASSES[i] for i in rng.permutation(len(CLASSES))[:icons]]
    classes = list(classes) if classes is not None else drawn
    x = 16
    boxes = []
    for cls in classes:
        side = int(rng.integers(sizes[0], sizes[1] + 1))
        pad = int(rng.integers(6, 12))
        button = None if rng.random() < 0.5 else fg
        tile = render_icon(cls, side + 2 * pad, fg, bar_bg, rng, fill=side / (side + 2 * pad), button=button)
        y = (bar_h - tile.shape[0]) // 2
        img[y: y + tile.shape[0], x: x + tile.shape[1]] = tile
        boxes.append((x, y, x + tile.shape[1], y + tile.shape[0]))
        x += tile.shape[1] + int(rng.integers(8, 24))
    x += 24
    buttons = {}
    for label in texts:
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.8, 2)
        x2, y1 = x + tw + 28, (bar_h - th - 20) // 2
        cv2.rectangle(img, (x, y1), (x2, y1 + th + 20), fg, 2)
        _put_text(img, label, (x + 14, y1 + th + 10), fg)
        buttons[label] = (x, y1, x2, y1 + th + 20)
        x = x2 + 16
    _put_text(img, "Quarterly report", (40, bar_h + 70), (30, 30, 30), 1.2)
    _put_text(img, "Revenue grew in every region this quarter.", (40, bar_h + 120), (60, 60, 60), 0.8)
    return Toolbar(img, boxes, classes, buttons)


def _put_text(img: np.ndarray, s: str, org: tuple[int, int], colour: tuple[int, ...], scale: float = 0.8) -> None:
    cv2.putText(img, s, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 2, cv2.LINE_AA)
