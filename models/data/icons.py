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

from sensorium.models.data.icon_glyphs import GLYPHS, Pen

#: icon class → the names a caption or an instruction may use for it: the common
#: accessibility names (Android content-desc, aria-label) and their synonyms
ICONS: dict[str, tuple[str, ...]] = {
    "gear": ("gear", "settings", "cog", "preferences"),
    "search": ("magnifying glass", "search", "magnifier", "find"),
    "heart": ("heart", "like", "favorite"),
    "star": ("star", "rating"),
    "home": ("house", "home"),
    "trash": ("trash bin", "trash can", "delete", "bin", "discard"),
    "bell": ("bell", "notifications", "alerts"),
    "mail": ("envelope", "mail", "email"),
    "plus": ("plus", "add", "increase", "zoom in", "new"),
    "close": ("cross", "close", "x", "cancel", "dismiss"),
    "arrow": ("arrow", "next", "forward", "right arrow"),
    "menu": ("menu", "hamburger menu", "open menu", "navigation drawer"),
    "user": ("user", "profile", "person", "account"),
    "play": ("play", "triangle play", "start"),
    "check": ("check mark", "tick", "done"),
    "lock": ("lock", "padlock"),
    "more": ("more options", "overflow", "more", "three dots", "kebab menu"),
    "back": ("navigate up", "back", "go back", "back arrow", "previous"),
    "minus": ("minus", "remove", "decrease", "zoom out"),
    "share": ("share",),
    "edit": ("edit", "pencil", "compose", "rename"),
    "refresh": ("refresh", "reload", "sync"),
    "pause": ("pause",),
    "location": ("my location", "location", "locate", "crosshair"),
}
CLASSES = tuple(ICONS)
TEMPLATES = ("an icon of a {}", "a {} icon", "{} icon", "the {} button", "{}", "a {} symbol")


def _draw(img: np.ndarray, name: str, cx: float, cy: float, r: float, colour: tuple[int, ...], bg: tuple[int, ...],
          t: int, filled: bool, variant: float = 0.0) -> None:
    """Draw icon ``name`` centred at (cx, cy) with half-size r, line thickness t (canvas px)."""
    if name not in GLYPHS:
        raise ValueError(f"unknown icon {name!r}; expected one of {', '.join(CLASSES)}")
    GLYPHS[name](Pen(img, cx, cy, r, colour, bg, t, filled, variant))


def _luma(c: np.ndarray) -> float:
    return float(c @ np.array([0.299, 0.587, 0.114]))


def _colours(rng: np.random.Generator, min_contrast: float = 90.0) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(foreground, background) RGB with at least ``min_contrast`` luma between them: an icon a
    designer would ship."""
    while True:
        fg, bg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if abs(_luma(fg) - _luma(bg)) >= min_contrast:
            return tuple(int(v) for v in fg), tuple(int(v) for v in bg)


def _surface(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(foreground, background) of a Material-like surface: dark grey on a light surface,
    near-white on a dark one, or white on a saturated app bar, with a little jitter."""
    kind = rng.random()
    if kind < 0.4:
        bg, fg = rng.integers(228, 256, 3).min().repeat(3) + rng.integers(-4, 1, 3), rng.integers(20, 110) + rng.integers(0, 12, 3)
    elif kind < 0.75:
        bg, fg = rng.integers(12, 60) + rng.integers(0, 10, 3), rng.integers(200, 256) - rng.integers(0, 12, 3)
    else:
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(120, 256), rng.integers(90, 230)]]])
        bg, fg = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(int), np.full(3, rng.integers(225, 256))
    return tuple(int(np.clip(v, 0, 255)) for v in fg), tuple(int(np.clip(v, 0, 255)) for v in bg)


def render_icon(name: str, size: int, fg: tuple[int, ...], bg: tuple[int, ...], rng: np.random.Generator, *,
                fill: float = 0.8, button: tuple[int, ...] | None = None) -> np.ndarray:
    """An icon on its own (size, size, 3) uint8 RGB tile: the glyph spans about ``fill`` of the
    tile, offset by up to 6 %; ``button`` draws a bordered button of that colour around it.
    Line width, filled/outlined style, shape variant and offset are drawn from ``rng``."""
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
    t = max(k, int(round(rng.uniform(1.0, 3.0) * k * max(1.0, size / 32) ** 0.5)))
    _draw(canvas, name, float(cx), float(cy), r, fg, bg, t, filled=bool(rng.random() < 0.4), variant=float(rng.random()))
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


def _screenshot_noise(tile: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor-free screenshot damage: JPEG at quality 35-90 (Rico's screenshots are JPEGs) or
    a little Gaussian noise from scaling."""
    u = rng.random()
    if u < 0.3:
        ok, buf = cv2.imencode(".jpg", tile, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 91))])
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).reshape(tile.shape)
    if u < 0.5:
        return np.clip(tile + rng.normal(0, 4, tile.shape), 0, 255).astype(np.uint8)
    return tile


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
    fg, bg = _surface(rng) if rng.random() < 0.6 else _colours(rng)
    style = rng.random()
    if style < 0.3:  # on a bordered button
        button = tuple(int(v) for v in rng.integers(0, 256, 3))
        tile = render_icon(cls, native, fg, bg, rng, fill=rng.uniform(0.35, 0.62), button=button)
    elif style < 0.5:  # a bare glyph in its 48 dp touch target: a crop of the whole clickable node
        tile = render_icon(cls, native, fg, bg, rng, fill=rng.uniform(0.3, 0.55))
    else:  # a crop around the glyph itself
        tile = render_icon(cls, native, fg, bg, rng, fill=rng.uniform(0.62, 0.88))
    tile = _screenshot_noise(tile, rng)
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
