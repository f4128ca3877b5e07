"""Composite labels: one accessibility label naming several things a node holds.

Android joins a toolbar's subtitle and its up button into one content-desc ("3,368 results,
Navigate up"); web pages do the same with ``aria-label`` ("Inbox, 3 unread"). When the whole
label is not found, each comma-separated part is grounded on its own, and the answer stands
only when the parts that were found lie together (one node can hold them) and none was
ambiguous, or when the one part found is certain and no other part was found at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from sensorium.stages.gui.boxes import gaps

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Part:
    """One part's grounding: its text, the box found for it (xyxy screenshot pixels, None when
    not found), whether that is certain (an exact text, an icon the model is sure of), whether
    it is an icon, and whether it was refused because several elements fit it equally."""

    text: str
    box: Box | None = None
    sure: bool = False
    icon: bool = False
    ambiguous: bool = False


def split_label(label: str) -> list[str]:
    """The parts of ``label`` split at commas and semicolons, except a comma inside a number
    ("3,368 results, Navigate up" -> ["3,368 results", "Navigate up"]); one part when none."""
    parts = [p.strip() for p in re.split(r";|(?<!\d),|,(?!\d)", label)]
    return [p for p in parts if p]


def together(a: Box, b: Box) -> bool:
    """Whether two boxes are near enough for one element to hold both: the gap between them,
    along either axis, at most twice the taller one's height."""
    reach = 2 * max(a[3] - a[1], b[3] - b[1])
    gap_x, gap_y = gaps(a, b)
    return gap_x <= reach and gap_y <= reach


def decide(parts: Sequence[Part]) -> tuple[Part | None, str]:
    """The part to click for a composite label, or None and why not. Clicks the icon among
    agreeing parts (the control the label names), else the first found part."""
    found = [p for p in parts if p.box is not None]
    if any(p.ambiguous for p in parts):
        return None, "part '" + next(p.text for p in parts if p.ambiguous) + "' fits several elements"
    if not found:
        return None, "no part of it was found"
    if len(found) == 1:
        p = found[0]
        return (p, "") if p.sure else (None, f"only '{p.text}' was found, and not surely")
    if not all(together(p.box, q.box) for p in found for q in found if p is not q):
        return None, "its parts were found apart (" + ", ".join(f"'{p.text}'" for p in found) + ")"
    return next((p for p in found if p.icon), found[0]), ""
