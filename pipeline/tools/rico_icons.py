"""Real icon targets: the Rico screens' clickable nodes named only by their ``content-desc``.

``$SENSORIUM_DATA/gui/<id>.jpg`` + ``<id>.json`` are Android screenshots with their view
hierarchies (bounds in 1440x2560 screen space; the JPEGs are 540 or 1080 wide). A clickable,
visible node with a ``content-desc`` and no text of its own is an element a blind user
reaches by that name ("Navigate up", "More options", "Zoom in"): an icon target. Left out
are names that say nothing a user could ask for (``Image``, ``Logo``, ``default``: an app's
placeholder descriptions) and nodes over a quarter of the screen (a map view, not a button).
The same name twice on one screen is one target with both boxes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from sensorium.pipeline.tools.gui_targets import Box, GuiTarget

HIERARCHY_WIDTH = 1440  # Rico's view hierarchies are in 1440x2560 screen space
MAX_NAME = 40
#: content-desc values apps put on images without describing them: no user asks for these
PLACEHOLDERS = frozenset({"image", "logo", "default", "icon", "button", "imageview", "img", "null"})


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for c in node.get("children") or []:
        if isinstance(c, dict):
            yield from _nodes(c)


def _desc(node: dict) -> str:
    d = node.get("content-desc")
    if isinstance(d, list):
        d = " ".join(str(x) for x in d if x)
    return " ".join(str(d or "").split())


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:  # the header is enough for the size
        return im.size


def screen_icon_targets(hierarchy: Path) -> list[GuiTarget]:
    """The icon targets of one screen (``<id>.json`` beside ``<id>.jpg``), in tree order."""
    image = hierarchy.with_suffix(".jpg")
    if not image.exists():
        raise FileNotFoundError(f"{hierarchy} has no screenshot {image.name} beside it")
    w, h = _image_size(image)
    scale = w / HIERARCHY_WIDTH
    named: dict[str, list[Box]] = {}
    root = json.loads(hierarchy.read_text())["activity"]["root"]
    for n in _nodes(root):
        name = _desc(n)
        if not (n.get("clickable") and n.get("visibility", "visible") == "visible" and n.get("visible-to-user", True)):
            continue
        if not name or len(name) > MAX_NAME or name.lower() in PLACEHOLDERS or str(n.get("text") or "").strip():
            continue
        x1, y1, x2, y2 = (float(v) * scale for v in n.get("bounds", (0, 0, 0, 0)))
        on_screen = x1 >= 0 and y1 >= 0 and x2 <= w + 1 and y2 <= h + 1 and x2 - x1 >= 4 and y2 - y1 >= 4
        if on_screen and (x2 - x1) * (y2 - y1) <= 0.25 * w * h:
            named.setdefault(name, []).append((x1, y1, x2, y2))
    return [GuiTarget("mobile", "icon", hierarchy.stem, image, name, tuple(boxes)) for name, boxes in named.items()]


def icon_targets(gui_dir: Path) -> list[GuiTarget]:
    """Every icon target of every screen in ``gui_dir``, grouped by screen in file order."""
    files = sorted(Path(gui_dir).glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no Rico view hierarchies (*.json) in {gui_dir}; set SENSORIUM_DATA")
    return [t for f in files for t in screen_icon_targets(f)]
