"""Conventions a user relies on to say which of several look-alike icons is meant, when the
glyph alone cannot tell: an order the label names, and the framework's fixed places.

- **An order named in the label.** A time picker's columns run hour, minute, second from
  left to right (time is written hour first), so "Increase minute" on two identical +
  glyphs in a row is the second one, and a lone + elsewhere (an "add" button) is no column
  of the picker; ordinals ("first", "second", "last") and sides ("left", "top", "bottom")
  name a place in a row or a column the same way. Used only when the look-alikes form one
  row (or column) and every word in the label gives the same place; otherwise the caller
  refuses as before. A date picker's columns follow the locale (day-month-year or
  month-day-year), so day, month and year are not an order.
- **The top app bar.** Android names the button at the left end of the app bar (the bar
  right under the status bar) "Navigate up" and the one at its right end "More options"
  (the overflow menu); most apps and many web apps keep those places. The place only breaks
  a tie between icons the model finds alike, or backs a weak score where the glyph there is
  the best match; it never clicks a place with nothing on it.

Pure geometry on xyxy boxes in screenshot pixels; no model, no image.
"""

from __future__ import annotations

import re
from typing import Sequence

Box = Sequence[float]

#: the time units in the order a picker's columns show them, left to right
TIME_UNITS = {"hour": 0, "hours": 0, "minute": 1, "minutes": 1, "seconds": 2}
#: ordinal words -> place (negative: from the end)
ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "last": -1}
#: side words -> (axis, place): a row is read left to right, a column top to bottom
SIDES = {"left": ("row", 0), "leftmost": ("row", 0), "right": ("row", -1), "rightmost": ("row", -1),
         "top": ("column", 0), "topmost": ("column", 0), "upper": ("column", 0),
         "bottom": ("column", -1), "bottommost": ("column", -1), "lower": ("column", -1)}
#: framework names of the top app bar's end buttons -> which end
APP_BAR = {"navigate up": "left", "more options": "right"}


def _line(boxes: Sequence[Box], axis: str) -> list[int] | None:
    """Indices of ``boxes`` in reading order along ``axis`` ("row": left to right, "column": top
    to bottom) when they form one such line (centres within half the smallest box's height (or
    width) across it, no two overlapping along it), else None."""
    if len(boxes) < 2:
        return None
    along, across = (0, 1) if axis == "row" else (1, 0)
    centre = [((b[along] + b[along + 2]) / 2, (b[across] + b[across + 2]) / 2) for b in boxes]
    thin = min(b[across + 2] - b[across] for b in boxes)
    if max(c[1] for c in centre) - min(c[1] for c in centre) > 0.5 * thin:
        return None
    order = sorted(range(len(boxes)), key=lambda i: centre[i][0])
    if any(boxes[order[k + 1]][along] < boxes[order[k]][along + 2] for k in range(len(order) - 1)):
        return None
    return order


def _places(words: list[str], axis: str, n: int) -> set[int]:
    """Every place (0..n-1) the words name along a line of ``n`` look-alikes on ``axis``."""
    out: set[int] = set()
    for k, w in enumerate(words):
        if axis == "row" and w in TIME_UNITS and TIME_UNITS[w] < n:
            out.add(TIME_UNITS[w])
        if w == "second" and k == len(words) - 1:  # last, it is the unit ("Increase second"): H:M:S's third column
            if axis == "row" and n == 3:
                out.add(2)
            continue
        if w in ORDINALS and abs(ORDINALS[w]) < n + (ORDINALS[w] < 0):
            out.add(ORDINALS[w] % n)
        if w in SIDES and SIDES[w][0] == axis:
            out.add(SIDES[w][1] % n)
    return out


def named_order(label: str, boxes: Sequence[Box], *, skip: str = "") -> int | None:
    """The index into ``boxes`` (look-alike icons, xyxy) that ``label`` names by an order, or
    None when it names none, when the boxes are not one row or column (for a time unit: when
    they hold not exactly one row of two or more, the picker), or when its words disagree. "second" is the unit when it ends the label ("Increase second"), else the
    ordinal ("second tab"). ``skip``: the icon's
    own name in the label ("right arrow" names a glyph, not a place)."""
    own = set(skip.lower().split())
    words = [w for w in re.findall(r"[a-z0-9]+", label.lower()) if w not in own]
    for axis in ("row", "column"):
        order = _line(boxes, axis)
        if order is None:
            continue
        places = _places(words, axis, len(boxes))
        if len(places) == 1:
            return order[places.pop()]
    if any(w in TIME_UNITS for w in words) or words[-1:] == ["second"]:
        # a unit names a picker's column: the picker is the one row of two or more look-alikes;
        # a lone look-alike elsewhere (an "add" button under the picker) is no column of it
        rows = [r for r in _rows(boxes) if len(r) >= 2]
        if len(rows) == 1 and _line([boxes[i] for i in rows[0]], "row") is not None:
            row = sorted(rows[0], key=lambda i: boxes[i][0])
            places = _places(words, "row", len(row))
            if len(places) == 1:
                return row[places.pop()]
    return None


def _rows(boxes: Sequence[Box]) -> list[list[int]]:
    """``boxes`` grouped into rows: sorted by centre height, a box joins the row above when its
    centre is within half the smaller height of that row's last box."""
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: boxes[i][1] + boxes[i][3]):
        if rows:
            j = rows[-1][-1]
            if abs((boxes[i][1] + boxes[i][3]) - (boxes[j][1] + boxes[j][3])) / 2 <= 0.5 * min(boxes[i][3] - boxes[i][1], boxes[j][3] - boxes[j][1]):
                rows[-1].append(i)
                continue
        rows.append([i])
    return rows


def app_bar(boxes: Sequence[Box], width: int, height: int, top: int = 0) -> list[int]:
    """Indices of ``boxes`` (candidate icons, xyxy) in the top app bar, left to right: the
    row of the topmost box below ``top`` (the status bar's bottom), when that row's centre
    is within a fifth of the screen's shorter side of ``top`` (Android's 56 dp bar on a 360 dp
    phone, a web page's toolbar)."""
    below = [i for i, b in enumerate(boxes) if (b[1] + b[3]) / 2 >= top]
    if not below:
        return []
    first = min(below, key=lambda i: boxes[i][1])
    b0 = boxes[first]
    cy0, h0 = (b0[1] + b0[3]) / 2, b0[3] - b0[1]
    if cy0 - top > 0.2 * min(width, height):
        return []
    row = [i for i in below if abs((boxes[i][1] + boxes[i][3]) / 2 - cy0) <= 0.5 * max(h0, boxes[i][3] - boxes[i][1])]
    return sorted(row, key=lambda i: boxes[i][0])


def app_bar_slot(name: str, boxes: Sequence[Box], width: int, height: int, top: int = 0) -> int | None:
    """The index of the box at the app bar's end that the framework name ``name`` ("navigate
    up", "more options") places there, or None (another name, no bar, or the bar's end box
    is not in that end's quarter of the screen)."""
    end = APP_BAR.get(" ".join(name.lower().split()))
    row = app_bar(boxes, width, height, top) if end else []
    if not row:
        return None
    i = row[0] if end == "left" else row[-1]
    cx = (boxes[i][0] + boxes[i][2]) / 2
    return i if (cx <= 0.25 * width if end == "left" else cx >= 0.75 * width) else None
