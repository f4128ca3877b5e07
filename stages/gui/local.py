"""The local GUI grounding backend: no large model, just OCR, element boxes and fuzzy text.

It reads the screenshot with RapidOCR (``stages/gui/screen_ocr.py``), re-reads the tiles
with unread detail at twice their size when the asked label was not found whole
(``stages/gui/small_text.py``), finds element rectangles (fields,
buttons) from the image's edges with OpenCV, and grounds instructions of the forms

- ``click X`` / ``double click X`` / ``right click X`` / ``tap X``: the element whose text
  best matches X (rapidfuzz, over OCR lines and runs of fragments merged on one line, with
  truncated text matched by its start: ``stages/gui/ocr_text.py``), clicked at the centre of
  the element around that text when the element centres it (a button), else at the text
  (a bar or row of several items);
- ``type Y into X`` / ``fill X with Y`` (``... and submit`` / ``and press enter``): click the
  field labelled X (the rectangle holding X, or the nearest one right of or below the label),
  then type Y;
- ``scroll down|up|left|right`` and ``scroll to X`` (``finished`` once X is on screen);
- ``press ctrl c`` / ``press enter``: a hotkey;
- ``wait``, ``go back``.

When no text matches X in a click, and an embedding model is configured (``icons``, an
:class:`IconConfig` such as ``IconConfig(weights="clip_icons")``), X is looked for among the
text-free elements by CLIP similarity (``stages/gui/icons.py``): "click the gear icon".
Look-alike icons are told apart by an order the label names or the app bar's ends
(``stages/gui/conventions.py``); a composite label ("3,368 results, Navigate up") not found
whole is split at its commas and its parts grounded (``stages/gui/composite.py``).

Anything it cannot ground (no text close enough to X and no icon like it, an instruction it
does not know) becomes ``call_user()`` with the reason in the thought. It answers in UI-TARS
text with points in ``physical_px``, so its answers take the same parse-and-convert path as a
model's.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from sensorium.stages.gui import small_text
from sensorium.stages.gui.boxes import centre, inside
from sensorium.stages.gui.composite import Part, decide, split_label
from sensorium.stages.gui.icons import IconConfig, IconGrounder, IconMatch
from sensorium.stages.gui.ocr_engine import OcrConfig
from sensorium.stages.gui.ocr_text import Match, TextBox, find_text, merge_fragments
from sensorium.stages.gui.protocol import AgentRequest
from sensorium.stages.gui.screen_ocr import ScreenReader
from sensorium.stages.results.gui import ActionType, CoordinateSpace

KEYS = {"ctrl", "control", "alt", "shift", "enter", "return", "tab", "esc", "escape", "backspace", "delete", "del", "up", "down",
        "left", "right", "space", "home", "end", "pageup", "pagedown", "cmd", "command", "meta", "win", "super", "insert",
        *(f"f{i}" for i in range(1, 13))}
#: a text match at least this good (0-100) is the label itself; below it, an icon the name
#: fits is asked first (a fuzzy match of an icon's name is more often other text)
SURE_TEXT = 90.0
_ELEMENT_WORDS = r"(?:button|link|tab|icon|field|box|input|checkbox|menu|item|option|text ?field|text ?box)"


def _is_key_combo(words: str) -> bool:
    parts = [p for p in re.split(r"[\s+\-]+", words.lower().strip()) if p]
    return bool(parts) and len(parts) <= 3 and all(p in KEYS or re.fullmatch(r"[a-z0-9]", p) for p in parts) and (
        len(parts) > 1 or parts[0] in KEYS)


def _quote(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


@dataclass(frozen=True)
class Act:
    """A grounded step: the thought that says why, and the UI-TARS action call."""

    thought: str
    action: str

    def text(self) -> str:
        return f"Thought: {self.thought}\nAction: {self.action}"


@dataclass(frozen=True)
class Refusal:
    """A step that cannot be grounded: the reason, answered as ``call_user()`` ("I <reason>.")."""

    reason: str

    def text(self) -> str:
        return f"Thought: I {self.reason}.\nAction: call_user()"


#: what grounding a click yields, formatted once by :meth:`text`
Outcome = Act | Refusal


def element_boxes(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Rectangles that look like UI elements (fields, buttons): closed edge contours at least
    24x12 px and not most of the screen, as (x1, y1, x2, y2), smallest first."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, 30, 90)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    h, w = grey.shape
    out = set()
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        if bw < 24 or bh < 12 or bw * bh > 0.5 * w * h or bh > 0.3 * h:
            continue
        if cv2.contourArea(c) < 0.6 * bw * bh:  # not a filled/closed rectangle
            continue
        out.add((x, y, x + bw, y + bh))
    return sorted(out, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def word_boxes(texts: list[TextBox]) -> list[tuple[float, float, float, float]]:
    """Boxes of the OCR lines that are words. A lone character is as likely OCR reading a
    glyph (an X, a magnifier as Q, a star as ★) as text, so it does not hide an icon."""
    return [t.box for t in texts if len(re.sub(r"\W", "", t.text)) >= 2]


def click_point(label: TextBox, element: tuple[float, float, float, float] | None, texts: list[TextBox]) -> tuple[float, float]:
    """Where to click for ``label``: the element's centre when the element centres the text
    and holds no other text (a button), else the text's centre (a wide bar or a row of several
    items, where the element's centre may be another item or nothing)."""
    if element is None:
        return centre(label.box)
    (tx, ty), (ex, ey) = centre(label.box), centre(element)
    centred = abs(tx - ex) <= max(8.0, 0.12 * (element[2] - element[0])) and abs(ty - ey) <= max(6.0, 0.2 * (element[3] - element[1]))
    others = any(t.parts == 1 and not inside(t.box, label.box) and element[0] <= centre(t.box)[0] <= element[2]
                 and element[1] <= centre(t.box)[1] <= element[3] for t in texts)
    return (ex, ey) if centred and not others else (tx, ty)


class LocalBackend:
    """``complete(request) -> (UI-TARS text, "physical_px")``. min_score: fuzzy match floor
    (0-100) below which it answers ``call_user``; max_side: OCR detection's longer side;
    small_text: re-read unread tiles at twice their size when the label is not found whole;
    icons: an :class:`IconConfig` to ground icons by CLIP similarity, None to ground text only;
    embedder: builds the icon model from its options (see :class:`IconGrounder`).

    ``timings`` holds the last request's breakdown in ms (``det``, ``rec``, ``small_text``,
    ``elements``, ``icons``, ``total``): the service runs one request at a time."""

    name = "local"

    def __init__(self, *, min_score: float = 70.0, max_side: int = 800, small_text: bool = True,
                 icons: IconConfig | None = None, embedder: Any = None) -> None:
        self.min_score = min_score
        self.max_side = max_side
        self.small_text = small_text
        self.reader = ScreenReader(OcrConfig(max_side=max_side))
        self.icons = IconGrounder(icons, embedder=embedder) if icons is not None else None
        self.timings: dict[str, float] = {}

    def load(self) -> None:
        """Load the OCR models now (a service calls this at start, not on the first request)."""
        self.reader.load()

    # --- perception ---------------------------------------------------------------------
    def read_text(self, image: np.ndarray) -> list[TextBox]:
        """OCR lines of an (H, W, 3) uint8 RGB screenshot, in its pixels (first pass only)."""
        return self.reader.read(image, self.timings)

    def find_text(self, target: str, texts: list[TextBox]) -> tuple[TextBox | None, float]:
        """The OCR line (or merged run of fragments) best matching ``target`` and its score (0-100)."""
        m = find_text(target, merge_fragments(texts))
        return m.text, m.score

    def _elements(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        t0 = time.perf_counter()
        boxes = element_boxes(image)
        self.timings["elements"] = self.timings.get("elements", 0.0) + (time.perf_counter() - t0) * 1e3
        return boxes

    def locate(self, target: str, image: np.ndarray, texts: list[TextBox] | None = None,
               match: Match | None = None) -> tuple[Match, list[TextBox]]:
        """The best text match for ``target`` and the lines read: the first OCR pass (``texts``
        when already read, ``match`` when already matched in them), then, if the label was not
        found whole there, the small-text pass over unread tiles."""
        texts = self.read_text(image) if texts is None else texts
        match = find_text(target, merge_fragments(texts)) if match is None else match
        if self.small_text and match.whole < 90:
            t0 = time.perf_counter()
            extra: list[TextBox] = []
            for tile in small_text.tiles_to_reread(image, texts):
                extra += small_text.to_screen(self.reader.read(small_text.upscale(image, tile, 2.0), {}), tile, 2.0)
            self.timings["small_text"] = (time.perf_counter() - t0) * 1e3
            if extra:
                texts = small_text.add_new(texts, extra)
                second = find_text(target, merge_fragments(texts))
                if (second.score, second.whole) > (match.score, match.whole):
                    match = second
        return match, texts

    # --- grounding ----------------------------------------------------------------------
    def _element_at(self, label: TextBox, boxes: list[tuple[int, int, int, int]]) -> tuple[float, float, float, float] | None:
        """The smallest element rectangle holding the label's text with a margin around it (a
        button, a field with a placeholder), not the outline of the glyphs themselves."""
        lx1, ly1, lx2, ly2 = label.box
        for b in boxes:
            if inside(label.box, b) and (b[2] - b[0]) >= (lx2 - lx1) + 10 and (b[3] - b[1]) >= (ly2 - ly1) + 6:
                return b
        return None

    def _field_for(self, label: TextBox, boxes: list[tuple[int, int, int, int]], texts: list[TextBox]) -> tuple[float, float, float, float] | None:
        """The input field a label names: one holding the label (a placeholder), else the
        nearest rectangle to its right on the same row or below it in the same column."""
        own = self._element_at(label, boxes)
        if own is not None and (own[3] - own[1]) < 4 * (label.box[3] - label.box[1]):
            return own
        lx1, ly1, lx2, ly2 = label.box
        lh = ly2 - ly1
        glyphs = [t.box for t in texts]
        others = [t for t in texts if not inside(t.box, label.box)]
        best: dict[str, tuple[float, tuple[float, float, float, float]]] = {}
        for b in boxes:
            if inside(label.box, b) or any(inside(b, g, pad=4) for g in glyphs):
                continue  # the label itself, or the outline of some text's glyphs
            if any(b[0] <= centre(t.box)[0] <= b[2] and b[1] <= centre(t.box)[1] <= b[3] for t in others):
                continue  # holds other text: a button or another field's content, not this label's field
            right = b[0] >= lx2 - 4 and abs(centre(b)[1] - (ly1 + ly2) / 2) < max(lh, (b[3] - b[1]) / 2)
            below = b[1] >= ly2 - 4 and b[0] <= lx2 and b[2] >= lx1 and b[1] - ly2 < 6 * lh
            for side, ok, d in (("right", right, b[0] - lx2), ("below", below, b[1] - ly2)):
                if ok and d < best.get(side, (float("inf"),))[0]:
                    best[side] = (d, b)
        # forms put a field beside its label more often than under it: same row first
        return best["right"][1] if "right" in best else best["below"][1] if "below" in best else None

    def complete(self, request: AgentRequest) -> tuple[str, CoordinateSpace]:
        text = self.ground(request.instruction, request.image)
        return text, CoordinateSpace.PHYSICAL_PX

    def ground(self, instruction: str, image: np.ndarray) -> str:
        """UI-TARS text (Thought + Action) for ``instruction`` on ``image``, points in its pixels;
        :attr:`timings` says where the time went."""
        self.timings = {}
        t0 = time.perf_counter()
        try:
            return self._ground(instruction, image)
        finally:
            self.timings["total"] = (time.perf_counter() - t0) * 1e3

    def _ground(self, instruction: str, image: np.ndarray) -> str:
        ins = " ".join(instruction.strip().rstrip(".!").split())
        low = ins.lower()
        h, w = image.shape[:2]
        cx, cy = w / 2, h / 2
        if re.fullmatch(r"(please )?wait( .*)?", low):
            return "Thought: Waiting for the page.\nAction: wait()"
        if re.fullmatch(r"(please )?(go back|navigate back|back)", low):
            return "Thought: Going back.\nAction: navigate_back()"
        m = re.fullmatch(r"(?:please )?(?:press|hit|use)(?: the)? (.+?)(?: keys?)?", low)
        if m and _is_key_combo(m.group(1)):
            key = " ".join(p for p in re.split(r"[\s+\-]+", m.group(1)) if p)
            return f"Thought: Pressing {key}.\nAction: hotkey(key='{_quote(key)}')"
        m = re.fullmatch(r"(?:please )?scroll(?: (up|down|left|right))?(?: (?:to|until)(?: the)? (.+?)(?: is visible| section)?)?", low)
        if m:
            direction, target = m.group(1) or "down", m.group(2)
            if target:
                found, _ = self.locate(target, image)
                if found.text is not None and found.score >= self.min_score:
                    seen = _quote(found.text.text)
                    return f"Thought: '{seen}' is on the screen.\nAction: finished(content='{seen} is visible')"
            return f"Thought: Scrolling {direction}.\nAction: scroll(start_box='({cx:.0f},{cy:.0f})', direction='{direction}')"
        submit = False
        m = re.fullmatch(r"(.+?),? and (?:then )?(?:submit|press enter|hit enter)", ins, re.IGNORECASE)
        if m:
            ins, submit = m.group(1), True
        m = re.fullmatch(r"(?:please )?(?:type|enter|write|input) ['\"]?(.+?)['\"]? (?:into|in|on) (?:the )?(.+?)(?: " + _ELEMENT_WORDS + r")?", ins, re.IGNORECASE)
        fill = re.fullmatch(r"(?:please )?fill (?:in )?(?:the )?(.+?)(?: " + _ELEMENT_WORDS + r")? with ['\"]?(.+?)['\"]?", ins, re.IGNORECASE)
        if m or fill:
            content, target = (m.group(1), m.group(2)) if m else (fill.group(2), fill.group(1))
            return self._type_into(target, content + ("\n" if submit else ""), image)
        m = re.fullmatch(r"(?:please )?(double[- ]click|right[- ]click|click|tap|press|select|choose|open)(?: on)?(?: the)? (.+?)(?: " + _ELEMENT_WORDS + r")?", ins, re.IGNORECASE)
        if m:
            return self._click(m.group(1).lower().replace("-", " "), m.group(2), image)
        return f"Thought: I do not know how to do '{_quote(ins)}' without a model; please do it or rephrase it.\nAction: call_user()"

    def _type_into(self, target: str, content: str, image: np.ndarray) -> str:
        found, texts = self.locate(target, image)
        if found.text is None or found.score < self.min_score:
            return self._refusal(target, found).text()
        field = self._field_for(found.text, self._elements(image), texts)
        if field is None:
            return self._refusal(target, found, "found the label but no input field next to it").text()
        x, y = centre(field)
        return (f"Thought: Typing into the '{_quote(found.text.text)}' field.\nAction: click(start_box='({x:.0f},{y:.0f})')\n\n"
                f"type(content='{_quote(content)}')")

    def _click(self, verb: str, target: str, image: np.ndarray) -> str:
        if verb in ("press",) and _is_key_combo(target):
            return Act(f"Pressing {target}.", f"hotkey(key='{_quote(target.lower())}')").text()
        action = {"double click": ActionType.LEFT_DOUBLE, "right click": ActionType.RIGHT_SINGLE}.get(verb, ActionType.CLICK)
        texts = self.read_text(image)
        outcome = self._click_whole(target, image, action, texts)
        parts = split_label(target)
        if len(parts) > 1 and isinstance(outcome, Refusal):
            outcome = self._click_composite(target, parts, image, action, texts, outcome)
        return outcome.text()

    def _click_composite(self, target: str, parts: list[str], image: np.ndarray, action: str, texts: list[TextBox],
                         refusal: Refusal) -> Outcome:
        """A composite label ("3,368 results, Navigate up") not found whole: each part grounded
        on its own, clicked when they agree (:func:`~sensorium.stages.gui.composite.decide`),
        else the whole label's refusal with why the parts did not help."""
        chosen, why = decide([self._ground_part(p, image, texts) for p in parts])
        if chosen is None:
            return Refusal(f"{refusal.reason}; split at its commas, {why}")
        x, y = centre(chosen.box)
        return Act(f"Clicking '{_quote(chosen.text)}', the part of '{_quote(target)}' found on the screen.",
                   f"{action}(start_box='({x:.0f},{y:.0f})')")

    def _ground_part(self, part: str, image: np.ndarray, texts: list[TextBox]) -> Part:
        """One part of a composite label: an exact text, else an icon the model is sure of, else a
        near text (not sure), else not found."""
        found, _ = self.locate(part, image, texts)
        text_box = found.text.box if found.text is not None and found.score >= self.min_score else None
        if text_box is not None and found.score >= SURE_TEXT:
            return Part(part, text_box, sure=True)
        if self.icons is not None and self.icons.knows(part):
            icon = self._find_icon(part, image, texts)
            if not icon.refused:
                return Part(part, icon.box, sure=True, icon=True)
            if icon.alike:
                return Part(part, icon=True, ambiguous=True)
        return Part(part, text_box)

    def _click_whole(self, target: str, image: np.ndarray, action: str, texts: list[TextBox]) -> Outcome:
        first = find_text(target, merge_fragments(texts))
        icon = None
        if self.icons is not None and (first.score < self.min_score and self.icons.knows(target) or
                                       first.score < SURE_TEXT and self._is_icon_name(target)):
            # an icon's name that no text on the screen matches exactly ("Account" is not the
            # column "Amount"): a sure icon is clicked, with no small-text pass
            icon = self._find_icon(target, image, texts)
            if not icon.refused:
                return self._icon_click(target, icon, action)
        found, more = self.locate(target, image, texts, first)
        if found.text is None or found.score < self.min_score:  # the icon's answer stands if no new text was read
            return self._click_icon(target, image, more, found, action, icon if more is texts else None)
        if icon is not None and found.score < SURE_TEXT and self._is_icon_name(target):
            # an icon's name, no icon sure enough and only a near text ("Amount" for "Account"): ask
            return self._refusal(target, found, f"read only '{_quote(found.text.text)}' (match {found.score:.0f}/100) for the "
                                               f"icon name '{_quote(target)}'", also=icon.refused)
        texts = more
        x, y = click_point(found.text, self._element_at(found.text, self._elements(image)), texts)
        how = "" if found.how == "whole" else f" ({found.how}, match {found.score:.0f}/100)"
        return Act(f"Clicking '{_quote(found.text.text)}'{how}.", f"{action}(start_box='({x:.0f},{y:.0f})')")

    def _is_icon_name(self, target: str) -> bool:
        """Whether ``target`` is an icon's name as a whole ("Account"), not a phrase that holds
        one ("Learn more")."""
        from rapidfuzz import fuzz

        name = self.icons.known_name(target)
        return name is not None and fuzz.ratio(name, " ".join(target.lower().split())) >= 85

    def _find_icon(self, target: str, image: np.ndarray, texts: list[TextBox]) -> IconMatch:
        t0 = time.perf_counter()
        match = self.icons.find(target, image, word_boxes(texts), self._elements(image))
        self.timings["icons"] = self.timings.get("icons", 0.0) + (time.perf_counter() - t0) * 1e3
        return match

    def _click_icon(self, target: str, image: np.ndarray, texts: list[TextBox], found: Match, action: str,
                    tried: IconMatch | None = None) -> Outcome:
        """No text matches ``target``: the text-free element that looks like it, if icons are
        configured (``tried``: the answer on the first pass's text, when the small-text pass
        found nothing new to change it)."""
        if self.icons is None:
            return self._refusal(target, found, also="icon grounding needs embed weights (the gui_agent icons option, "
                                                    "e.g. icons.weights=clip_icons)")
        match = self._find_icon(target, image, texts) if tried is None else tried
        if match.refused:
            return self._refusal(target, found, also=match.refused)
        return self._icon_click(target, match, action)

    @staticmethod
    def _icon_click(target: str, match: IconMatch, action: str) -> Act:
        x, y = centre(match.box)
        how = f", told apart {match.how}" if match.how else ""
        return Act(f"Clicking the icon that looks like '{_quote(target)}' (similarity {match.score:.2f}{how}).",
                   f"{action}(start_box='({x:.0f},{y:.0f})')")

    def _refusal(self, target: str, best: Match, why: str = "", also: str = "") -> Refusal:
        near = (f" (closest text: '{_quote(best.text.text)}', match {best.score:.0f}/100 below {self.min_score:.0f})"
                if best.text is not None else " (no text on the screen)")
        reason = why or f"cannot find '{_quote(target)}' on the screen{near}"
        return Refusal(f"{reason}{'; ' + also if also else ''}")
