"""The grounding targets of the Rico screenshots in ``$SENSORIUM_DATA/gui``: one definition for
the text and the icon benchmarks and their floor tests.

Each ``<id>.jpg`` has its view hierarchy ``<id>.json`` (nodes with class, text, content-desc,
clickable flag and ``bounds`` in 1440-wide screen space; the JPEGs are 540 or 1080 wide, so
bounds scale by image width / 1440). A **text target** is a clickable node the user can see
(visible, on screen, not empty) whose own text is a 1-40 character label; an **icon target**
is a clickable node with a 1-40 character ``content-desc`` and no text of its own (what a
blind user reaches it by: "Navigate up", "More options"), leaving out descriptions that name
nothing (:data:`PLACEHOLDERS`: "Image", "Logo", "default") and nodes over a quarter of the
screen (a map view, not a button). The instruction is ``click <label>``; a success is a point
inside that node or inside another clickable node of the same kind with the same label (the
instruction cannot tell them apart).

Rico's hierarchies are sometimes not what the screenshot shows. Two cases are taken out of
the scored targets and reported apart (``Target.stale`` says why): nodes under an open
navigation drawer (a later child of a ``DrawerLayout`` covers the node's centre), and the
targets in :data:`STALE`, checked by eye against the screenshots.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from PIL import Image

from sensorium.pipeline.tools.gui_targets import GuiTarget

HIERARCHY_WIDTH = 1440
MAX_LABEL = 40
Box = tuple[float, float, float, float]
Kind = Literal["text", "icon"]
#: content-desc values apps put on images without describing them: no user asks for these
PLACEHOLDERS = frozenset({"image", "logo", "default", "icon", "button", "imageview", "img", "null"})

#: (screen, label or "*" for every target of the screen) -> why the hierarchy is not the screenshot
STALE: dict[tuple[str, str], str] = {
    ("33621", "Refine"): "the open filter drawer covers all of the button but 'Re'; the drawer's own title "
                         "'Refine' is what the screen shows",
    ("33625", "10"): "the time picker shows 30 where the hierarchy says 10",
}


@dataclass(frozen=True)
class Target:
    """One label to click on one screenshot: the boxes (x1, y1, x2, y2, image pixels) of every
    clickable node of that kind on the screen with the label; ``stale``: why the hierarchy
    does not match the screenshot here ("" when it does: a scored target)."""

    screen_id: str
    image: Path
    text: str
    boxes: tuple[Box, ...]
    kind: Kind = "text"
    stale: str = ""

    def contains(self, x: float, y: float) -> bool:
        return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in self.boxes)


def _walk(node: dict, covers: tuple[Box, ...] = ()) -> Iterator[tuple[dict, tuple[Box, ...]]]:
    """Every node with the boxes (hierarchy space) of open drawers drawn over it."""
    yield node, covers
    kids = [c for c in node.get("children") or [] if isinstance(c, dict)]
    drawer = str(node.get("class", "")).endswith(".DrawerLayout") or str(node.get("class", "")) == "DrawerLayout"
    for i, c in enumerate(kids):
        over = covers
        if drawer:  # a DrawerLayout draws its content first and the open drawers over it
            over += tuple(tuple(k.get("bounds", (0, 0, 0, 0))) for k in kids[i + 1:]
                          if k.get("visible-to-user", True) and k.get("visibility", "visible") == "visible")
        yield from _walk(c, over)


def _label(node: dict, kind: Kind) -> str:
    if kind == "text":
        return " ".join(str(node.get("text") or "").split())
    desc = node.get("content-desc")
    if isinstance(desc, list):
        desc = " ".join(str(d) for d in desc if d)
    desc = " ".join(str(desc or "").split())
    return "" if str(node.get("text") or "").strip() or desc.lower() in PLACEHOLDERS else desc


def _screen_targets(js: Path, kind: Kind) -> list[Target]:
    image = js.with_suffix(".jpg")
    if not image.exists():
        raise FileNotFoundError(f"{js} has no screenshot {image.name} beside it")
    with Image.open(image) as im:  # the header is enough for the size
        w, h = im.size
    scale = w / HIERARCHY_WIDTH
    labelled: dict[str, list[Box]] = {}
    hidden: dict[str, str] = {}
    for n, covers in _walk(json.loads(js.read_text())["activity"]["root"]):
        text = _label(n, kind)
        if not (n.get("clickable") and n.get("visibility", "visible") == "visible" and n.get("visible-to-user", True)):
            continue
        b = n.get("bounds", (0, 0, 0, 0))
        x1, y1, x2, y2 = (v * scale for v in b)
        if not (0 < len(text) <= MAX_LABEL and x2 - x1 >= 4 and y2 - y1 >= 4 and x1 >= 0 and y1 >= 0 and x2 <= w + 1 and y2 <= h + 1):
            continue
        if kind == "icon" and (x2 - x1) * (y2 - y1) > 0.25 * w * h:
            continue
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        if any(c[0] <= cx <= c[2] and c[1] <= cy <= c[3] for c in covers):
            hidden[text] = "under an open navigation drawer"
        labelled.setdefault(text, []).append((x1, y1, x2, y2))
    sid = js.stem
    return [Target(sid, image, text, tuple(boxes), kind, STALE.get((sid, "*")) or STALE.get((sid, text)) or hidden.get(text, ""))
            for text, boxes in labelled.items()]


def targets(gui_dir: Path, kind: Kind = "text", *, stale: bool = False) -> list[Target]:
    """The ``kind`` targets of every screenshot in ``gui_dir``, in file order; the scored ones
    only, unless ``stale`` (then also those whose hierarchy does not match the screenshot)."""
    if kind not in ("text", "icon"):
        raise ValueError(f"kind: expected 'text' or 'icon', got {kind!r}")
    if not gui_dir.is_dir():
        raise FileNotFoundError(f"no Rico screenshots at {gui_dir} (expected <id>.jpg + <id>.json; see $SENSORIUM_DATA/README.md)")
    out = [t for js in sorted(gui_dir.glob("*.json")) for t in _screen_targets(js, kind)]
    return out if stale else [t for t in out if not t.stale]


def gui_targets(gui_dir: Path, kind: Kind = "icon") -> list[GuiTarget]:
    """The scored ``kind`` targets as :class:`GuiTarget` (platform ``mobile``), for the
    ScreenSpot-style table beside the web pages."""
    return [GuiTarget("mobile", t.kind, t.screen_id, t.image, t.text, t.boxes) for t in targets(gui_dir, kind)]
