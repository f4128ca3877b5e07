"""Google's Material Icons rendered from their font, captioned with their names: the real
icons Android and web apps ship, as training data for the GUI agent's icon model.

The glyphs come from the Material Icons font (Apache-2.0; Debian's
``fonts-material-design-icons-iconfont``), drawn by Pillow's FreeType by codepoint; the path to
the font is passed in by the caller (nothing here reads a file at import). A class is one
glyph (:data:`~sensorium.models.data.material_names.CLASSES`: the font's names, those with the
same glyph merged); it is captioned with its Material name in words ("more vert") or one of
the accessibility names apps give it (:data:`SYNONYMS`: "more options", "overflow"). Our own
OpenCV glyphs (:mod:`~sensorium.models.data.icons`) stay in the mix, named as the Material
class they draw (:data:`DRAWN`). A sample is a pure function of (font, seed, index).

Images are RGB uint8 (H, W, 3).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from sensorium.models.data.icons import ICONS, TEMPLATES, _colours, _screenshot_noise, _surface, render_icon, to_model_size
from sensorium.models.data.material_names import CLASSES

#: our drawn glyph class (models/data/icons.py) → the Material class it draws
DRAWN: dict[str, str] = {
    "gear": "settings", "search": "search", "heart": "favorite", "star": "star", "home": "home", "trash": "delete",
    "bell": "notifications", "mail": "mail", "plus": "add", "close": "close", "arrow": "arrow_forward", "menu": "menu",
    "user": "person", "play": "play_arrow", "check": "check", "lock": "lock", "more": "more_vert", "back": "arrow_back",
    "minus": "remove", "share": "share", "edit": "edit", "refresh": "refresh", "pause": "pause", "location": "my_location",
}

#: Material name → the accessibility names (Android content-desc, aria-label) and synonyms apps
#: and users give that icon, beyond its own name in words; the drawn classes' names
#: (models/data/icons.py ICONS) are added to their Material class below
SYNONYMS: dict[str, tuple[str, ...]] = {
    "more_vert": ("more options", "overflow", "overflow menu", "more", "three dots", "kebab menu", "options"),
    "more_horiz": ("more options", "more", "overflow", "three dots", "meatballs menu"),
    "arrow_back": ("navigate up", "back", "go back", "up", "previous"),
    "arrow_back_ios": ("navigate up", "back", "previous"),
    "chevron_left": ("previous", "back"),
    "chevron_right": ("next",),
    "arrow_forward": ("next", "forward", "continue"),
    "menu": ("open menu", "navigation drawer", "open navigation drawer", "hamburger menu", "drawer"),
    "search": ("search", "find", "magnifier", "search query"),
    "close": ("close", "cancel", "dismiss", "clear", "x"),
    "clear": ("clear", "clear query", "close"),
    "settings": ("settings", "preferences", "options", "gear", "cog"),
    "share": ("share", "send to"),
    "add": ("add", "new", "create", "plus", "increase"),
    "remove": ("remove", "minus", "decrease"),
    "delete": ("delete", "trash", "discard", "bin"),
    "edit": ("edit", "pencil", "compose", "rename"),
    "refresh": ("refresh", "reload"),
    "sync": ("sync", "synchronize"),
    "home": ("home", "house"),
    "play_arrow": ("play", "start", "resume"),
    "pause": ("pause",),
    "stop": ("stop",),
    "skip_next": ("next track", "skip next"),
    "skip_previous": ("previous track", "skip previous"),
    "favorite": ("like", "favourite", "love", "heart"),
    "favorite_border": ("like", "favourite", "heart"),
    "star": ("rate", "rating", "favourite", "star"),
    "star_border": ("rate", "star"),
    "notifications": ("notifications", "alerts", "bell"),
    "mail": ("email", "mail", "inbox", "messages"),
    "email": ("email", "mail"),
    "person": ("profile", "account", "user"),
    "account_circle": ("account", "profile", "user", "sign in"),
    "check": ("done", "confirm", "apply", "tick"),
    "done": ("confirm", "apply"),
    "lock": ("lock", "locked", "padlock"),
    "lock_open": ("unlock", "unlocked"),
    "my_location": ("my location", "current location", "locate me", "locate"),
    "location_on": ("location", "place", "map pin", "marker"),
    "info": ("information", "about", "details", "info"),
    "help": ("help", "question"),
    "zoom_in": ("zoom in", "magnify", "enlarge"),
    "zoom_out": ("zoom out", "shrink"),
    "photo_camera": ("camera", "take photo", "take picture", "capture"),
    "camera": ("camera", "take photo", "capture"),
    "flip_camera_android": ("switch camera", "flip camera"),
    "cameraswitch": ("switch camera",),
    "flash_on": ("flash on", "flash"),
    "flash_off": ("flash off", "no flash"),
    "flash_auto": ("auto flash", "flash auto"),
    "mic": ("voice search", "microphone", "speak", "record"),
    "send": ("send", "submit"),
    "attach_file": ("attach", "attachment", "paper clip"),
    "filter_list": ("filter", "filters"),
    "sort": ("sort", "sort by"),
    "shopping_cart": ("cart", "shopping cart", "basket"),
    "bookmark": ("bookmark",),
    "bookmark_border": ("bookmark",),
    "visibility": ("show password", "show", "visible"),
    "visibility_off": ("hide password", "hide", "hidden"),
    "volume_up": ("volume", "sound on", "unmute"),
    "volume_off": ("mute", "sound off"),
    "fullscreen": ("full screen", "expand"),
    "fullscreen_exit": ("exit full screen",),
    "expand_more": ("expand", "show more", "drop down"),
    "expand_less": ("collapse", "show less"),
    "download": ("download",),
    "file_download": ("download",),
    "upload": ("upload",),
    "print": ("print",),
    "content_copy": ("copy",),
    "content_paste": ("paste",),
    "undo": ("undo",),
    "redo": ("redo",),
    "call": ("call", "phone", "dial"),
    "chat": ("chat", "message", "comments"),
    "calendar_today": ("calendar", "date"),
    "event": ("calendar", "event", "date"),
    "schedule": ("time", "clock", "schedule"),
    "language": ("language", "globe", "website"),
    "grid_off": ("no grid",),
    "timer_off": ("no timer",),
    "timer": ("countdown", "countdown timer"),
}


def class_names(cls: str) -> tuple[str, ...]:
    """Every name a caption or instruction may use for Material class ``cls`` (a key of
    :data:`CLASSES`): each of its font names in words ("more_vert" → "more vert"), its
    :data:`SYNONYMS` and, for a class one of our drawn glyphs stands for, that glyph's names;
    in that order, without repeats."""
    if cls not in CLASSES:
        raise ValueError(f"unknown Material icon class {cls!r}; expected a name of the font ({len(CLASSES)} classes)")
    names = [n.replace("_", " ") for n in CLASSES[cls][1]]
    for alias in CLASSES[cls][1]:
        names += SYNONYMS.get(alias, ())
    names += [n for drawn, material in DRAWN.items() if material == cls for n in ICONS[drawn]]
    return tuple(dict.fromkeys(names))


@lru_cache(maxsize=8)
def load_font(path: str, size: int):
    """The font at ``path`` at ``size`` px (Pillow FreeType), checked to be the Material Icons
    font: its "more_vert" glyph must draw."""
    from PIL import ImageFont

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Material Icons font: no file at {path} (Debian: apt-get install fonts-material-design-icons-iconfont, "
                                "/usr/share/fonts/truetype/material-design-icons-iconfont/MaterialIcons-Regular.ttf)")
    try:
        font = ImageFont.truetype(str(p), size)
    except OSError as exc:
        raise ValueError(f"Material Icons font: {path} is not a font FreeType can read ({exc})") from None
    if font.getbbox(chr(CLASSES["more_vert"][0]))[2] <= 0:
        raise ValueError(f"Material Icons font: {path} has no Material glyphs (more_vert, U+{CLASSES['more_vert'][0]:04X} is empty)")
    return font


def glyph_mask(font_path: str, codepoint: int, side: int) -> np.ndarray:
    """(side, side) uint8 coverage of the glyph in its em box (Material's 24 dp icon box, with
    its own 2 dp of padding), anti-aliased by FreeType."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (side, side), 0)
    ImageDraw.Draw(img).text((0, 0), chr(codepoint), font=load_font(font_path, side), fill=255)
    return np.asarray(img)


def render_material(font_path: str, cls: str, size: int, fg: tuple[int, ...], bg: tuple[int, ...], rng: np.random.Generator, *,
                    fill: float = 0.8, button: tuple[int, ...] | None = None) -> np.ndarray:
    """Material class ``cls`` on its own (size, size, 3) uint8 RGB tile: its em box spans about
    ``fill`` of the tile, offset by up to 6 %; ``button`` draws a bordered button around it.
    Drawn at 4x and shrunk with area averaging, as :func:`~sensorium.models.data.icons.render_icon`."""
    k = 4
    s = size * k
    canvas = np.empty((s, s, 3), np.uint8)
    canvas[:] = bg
    if button is not None:
        m = int(rng.uniform(0.0, 0.12) * s)
        cv2.rectangle(canvas, (m, m), (s - 1 - m, s - 1 - m), button, max(k, int(rng.uniform(0.6, 1.6) * k)))
    em = max(4, int(round(fill * s / (20 / 24))))  # the glyph itself spans 20/24 of its em box
    em = min(em, s)
    mask = glyph_mask(font_path, CLASSES[cls][0], em).astype(np.float32)[..., None] / 255.0
    x0, y0 = ((s - em) / 2 + rng.uniform(-0.06, 0.06, 2) * s).round().astype(int).clip(0, s - em)
    region = canvas[y0: y0 + em, x0: x0 + em].astype(np.float32)
    canvas[y0: y0 + em, x0: x0 + em] = (region * (1 - mask) + np.asarray(fg, np.float32) * mask).round().astype(np.uint8)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


#: Material classes our drawn glyphs or synonyms name: common toolbar icons, drawn more often
COMMON = tuple(dict.fromkeys([*DRAWN.values(), *(c for c in SYNONYMS if c in CLASSES)]))
_ALL = tuple(CLASSES)


def material_sample(font_path: str, seed: int, index: int, size: int = 48, *, common: float = 0.4,
                    drawn: float = 0.15) -> tuple[np.ndarray, str, str]:
    """Sample ``index`` of split ``seed``: (image (size, size, 3) uint8 RGB, caption, class).

    With probability ``drawn`` one of our OpenCV glyphs, else a font glyph: a :data:`COMMON`
    class with probability ``common``, any class of the font otherwise. The tile is a crop the
    GUI backend would take (a bare glyph, or one on a button, native side 16-48 px), on a
    Material-like or random surface, with screenshot noise."""
    rng = np.random.default_rng([seed, index, 31])
    u = rng.random()
    native = int(round(np.exp(rng.uniform(np.log(16), np.log(48)))))
    fg, bg = _surface(rng) if rng.random() < 0.7 else _colours(rng, 70.0)
    style = rng.random()
    button = tuple(int(v) for v in rng.integers(0, 256, 3)) if style < 0.25 else None
    fill = rng.uniform(0.35, 0.62) if style < 0.25 else rng.uniform(0.3, 0.55) if style < 0.45 else rng.uniform(0.62, 0.9)
    if u < drawn:
        glyph = list(DRAWN)[int(rng.integers(len(DRAWN)))]
        cls = DRAWN[glyph]
        tile = render_icon(glyph, native, fg, bg, rng, fill=fill, button=button)
    else:
        pool = COMMON if u < drawn + common else _ALL
        cls = pool[int(rng.integers(len(pool)))]
        tile = render_material(font_path, cls, native, fg, bg, rng, fill=fill, button=button)
    tile = _screenshot_noise(tile, rng)
    names = class_names(cls)
    # the class's own name half the time: every icon of the font is known by its name
    name = names[0] if rng.random() < 0.5 else names[int(rng.integers(len(names)))]
    caption = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(name)
    return to_model_size(tile, size), caption, cls


def material_pairs(font_path: str, seed: int, n: int, size: int = 48) -> tuple[np.ndarray, list[str]]:
    """(images (n, size, size, 3) uint8 RGB, captions): the training pairs of split ``seed``."""
    load_font(font_path, 64)  # a bad path fails here, once, with its reason
    images = np.zeros((n, size, size, 3), np.uint8)
    captions = []
    for i in range(n):
        images[i], caption, _ = material_sample(font_path, seed, i, size)
        captions.append(caption)
    return images, captions
