"""The local GUI grounding backend: no large model, just OCR, element boxes and fuzzy text.

It reads the screenshot with RapidOCR (PP-OCR detection and recognition ONNX models bundled
in the ``rapidocr`` wheel, run by onnxruntime, offline), finds element rectangles (fields,
buttons) from the image's edges with OpenCV, and grounds instructions of the forms

- ``click X`` / ``double click X`` / ``right click X`` / ``tap X``: the element whose text
  best matches X (rapidfuzz), clicked at the centre of the rectangle around that text;
- ``type Y into X`` / ``fill X with Y`` (``... and submit`` / ``and press enter``): click the
  field labelled X (the rectangle holding X, or the nearest one right of or below the label),
  then type Y;
- ``scroll down|up|left|right`` and ``scroll to X`` (``finished`` once X is on screen);
- ``press ctrl c`` / ``press enter``: a hotkey;
- ``wait``, ``go back``.

When no text matches X in a click, and an embedding model is configured (``icons``, an
:class:`IconConfig` such as ``IconConfig(weights="clip_icons")``), X is looked for among the
text-free elements by CLIP similarity (``stages/gui/icons.py``): "click the gear icon".

Anything it cannot ground (no text close enough to X and no icon like it, an instruction it
does not know) becomes ``call_user()`` with the reason in the thought. It answers in UI-TARS
text with points in ``physical_px``, so its answers take the same parse-and-convert path as a
model's.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from sensorium.stages.gui.protocol import AgentRequest
from sensorium.stages.gui.icons import IconConfig, IconGrounder
from sensorium.stages.results.gui import ActionType, CoordinateSpace

KEYS = {"ctrl", "control", "alt", "shift", "enter", "return", "tab", "esc", "escape", "backspace", "delete", "del", "up", "down",
        "left", "right", "space", "home", "end", "pageup", "pagedown", "cmd", "command", "meta", "win", "super", "insert",
        *(f"f{i}" for i in range(1, 13))}
_ELEMENT_WORDS = r"(?:button|link|tab|icon|field|box|input|checkbox|menu|item|option|text ?field|text ?box)"


@dataclass(frozen=True)
class TextBox:
    """An OCR line: text and its axis-aligned box (x1, y1, x2, y2) in screenshot pixels."""

    text: str
    box: tuple[float, float, float, float]
    score: float


def _is_key_combo(words: str) -> bool:
    parts = [p for p in re.split(r"[\s+\-]+", words.lower().strip()) if p]
    return bool(parts) and len(parts) <= 3 and all(p in KEYS or re.fullmatch(r"[a-z0-9]", p) for p in parts) and (
        len(parts) > 1 or parts[0] in KEYS)


def _quote(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")


def _centre(b: tuple[float, float, float, float]) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


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


def _inside(inner: tuple[float, ...], outer: tuple[float, ...], pad: float = 2) -> bool:
    return inner[0] >= outer[0] - pad and inner[1] >= outer[1] - pad and inner[2] <= outer[2] + pad and inner[3] <= outer[3] + pad


class LocalBackend:
    """``complete(request) -> (UI-TARS text, "physical_px")``. min_score: fuzzy match floor
    (0-100); max_side: OCR detection's longer side; icons: an :class:`IconConfig` to ground
    icons by CLIP similarity, None to ground text only; embedder: builds the icon model from
    its options (see :class:`IconGrounder`)."""

    name = "local"

    def __init__(self, *, min_score: float = 70.0, max_side: int = 1280, icons: IconConfig | None = None,
                 embedder: Any = None) -> None:
        self.min_score = min_score
        self.max_side = max_side
        self.icons = IconGrounder(icons, embedder=embedder) if icons is not None else None
        self._ocr: Any = None
        self._lock = threading.Lock()

    # --- perception ---------------------------------------------------------------------
    def read_text(self, image: np.ndarray) -> list[TextBox]:
        """OCR lines of an (H, W, 3) uint8 RGB screenshot, in its pixels."""
        with self._lock:  # one engine per backend; onnxruntime sessions are not re-entrant here
            if self._ocr is None:
                import logging

                from rapidocr import RapidOCR

                logging.getLogger("RapidOCR").setLevel(logging.WARNING)
                self._ocr = RapidOCR(params={"Global.log_level": "warning", "Det.limit_side_len": self.max_side,
                                             "Det.limit_type": "max"})
            result = self._ocr(np.ascontiguousarray(image[..., ::-1]))
        if result is None or result.boxes is None or result.txts is None:
            return []
        out = []
        for quad, text, score in zip(result.boxes, result.txts, result.scores):
            q = np.asarray(quad, np.float32)
            out.append(TextBox(str(text).strip(), (float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())), float(score)))
        return [t for t in out if t.text]

    def find_text(self, target: str, texts: list[TextBox]) -> tuple[TextBox | None, float]:
        """The OCR line best matching ``target`` and its score (0-100). Ties on that score go to
        the line whose whole text is closest ("Select" picks the button, not the title "Select time")."""
        from rapidfuzz import fuzz

        t = target.lower().strip(" '\"")
        best, best_key = None, (0.0, 0.0)
        for tb in texts:
            cand = tb.text.lower().strip(" :*")
            whole = fuzz.ratio(t, cand)
            score = max(whole, fuzz.partial_ratio(t, cand) if len(cand) >= len(t) else 0.0)
            if len(cand) > 2 * len(t) + 4:  # a long sentence containing the word is a weaker match
                score *= 0.85
            if (score, whole) > best_key:
                best, best_key = tb, (score, whole)
        return best, best_key[0]

    # --- grounding ----------------------------------------------------------------------
    def _element_at(self, label: TextBox, boxes: list[tuple[int, int, int, int]]) -> tuple[float, float, float, float] | None:
        """The smallest element rectangle holding the label's text with a margin around it (a
        button, a field with a placeholder), not the outline of the glyphs themselves."""
        lx1, ly1, lx2, ly2 = label.box
        for b in boxes:
            if _inside(label.box, b) and (b[2] - b[0]) >= (lx2 - lx1) + 10 and (b[3] - b[1]) >= (ly2 - ly1) + 6:
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
        others = [t for t in texts if t is not label]
        best: dict[str, tuple[float, tuple[float, float, float, float]]] = {}
        for b in boxes:
            if _inside(label.box, b) or any(_inside(b, g, pad=4) for g in glyphs):
                continue  # the label itself, or the outline of some text's glyphs
            if any(b[0] <= _centre(t.box)[0] <= b[2] and b[1] <= _centre(t.box)[1] <= b[3] for t in others):
                continue  # holds other text: a button or another field's content, not this label's field
            right = b[0] >= lx2 - 4 and abs(_centre(b)[1] - (ly1 + ly2) / 2) < max(lh, (b[3] - b[1]) / 2)
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
        """UI-TARS text (Thought + Action) for ``instruction`` on ``image``, points in its pixels."""
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
                found, score = self.find_text(target, self.read_text(image))
                if found is not None and score >= self.min_score:
                    return f"Thought: '{_quote(found.text)}' is on the screen.\nAction: finished(content='{_quote(found.text)} is visible')"
            return f"Thought: Scrolling {direction}.\nAction: scroll(start_box='({cx:.0f},{cy:.0f})', direction='{direction}')"
        submit = False
        m = re.fullmatch(r"(.+?),? and (?:then )?(?:submit|press enter|hit enter)", ins, re.IGNORECASE)
        if m:
            ins, submit = m.group(1), True
        m = (re.fullmatch(r"(?:please )?(?:type|enter|write|input) ['\"]?(.+?)['\"]? (?:into|in|on) (?:the )?(.+?)(?: " + _ELEMENT_WORDS + r")?", ins, re.IGNORECASE)
             or None)
        fill = re.fullmatch(r"(?:please )?fill (?:in )?(?:the )?(.+?)(?: " + _ELEMENT_WORDS + r")? with ['\"]?(.+?)['\"]?", ins, re.IGNORECASE)
        if m or fill:
            content, target = (m.group(1), m.group(2)) if m else (fill.group(2), fill.group(1))
            texts = self.read_text(image)
            label, score = self.find_text(target, texts)
            if label is None or score < self.min_score:
                return self._cannot(target, label, score)
            field = self._field_for(label, element_boxes(image), texts)
            if field is None:
                return self._cannot(target, label, score, "found the label but no input field next to it")
            x, y = _centre(field)
            body = _quote(content + ("\n" if submit else ""))
            return (f"Thought: Typing into the '{_quote(label.text)}' field.\nAction: click(start_box='({x:.0f},{y:.0f})')\n\n"
                    f"type(content='{body}')")
        m = re.fullmatch(r"(?:please )?(double[- ]click|right[- ]click|click|tap|press|select|choose|open)(?: on)?(?: the)? (.+?)(?: " + _ELEMENT_WORDS + r")?", ins, re.IGNORECASE)
        if m:
            verb, target = m.group(1).lower().replace("-", " "), m.group(2)
            if verb in ("press",) and _is_key_combo(target):
                return f"Thought: Pressing {target}.\nAction: hotkey(key='{_quote(target.lower())}')"
            texts = self.read_text(image)
            found, score = self.find_text(target, texts)
            action = {"double click": ActionType.LEFT_DOUBLE, "right click": ActionType.RIGHT_SINGLE}.get(verb, ActionType.CLICK)
            if found is None or score < self.min_score:
                return self._click_icon(target, image, texts, found, score, action)
            box = self._element_at(found, element_boxes(image)) or found.box
            x, y = _centre(box)
            return f"Thought: Clicking '{_quote(found.text)}'.\nAction: {action}(start_box='({x:.0f},{y:.0f})')"
        return f"Thought: I do not know how to do '{_quote(ins)}' without a model; please do it or rephrase it.\nAction: call_user()"

    def _click_icon(self, target: str, image: np.ndarray, texts: list[TextBox], found: TextBox | None, score: float, action: str) -> str:
        """No text matches ``target``: the text-free element that looks like it, if icons are configured."""
        if self.icons is None:
            return self._cannot(target, found, score, also="icon grounding needs embed weights (the gui_agent icons option, "
                                                           "e.g. icons.weights=clip_icons)")
        match = self.icons.find(target, image, word_boxes(texts), element_boxes(image))
        if match.refused:
            return self._cannot(target, found, score, also=match.refused)
        x, y = _centre(match.box)
        return (f"Thought: Clicking the icon that looks like '{_quote(target)}' (similarity {match.score:.2f}).\n"
                f"Action: {action}(start_box='({x:.0f},{y:.0f})')")

    def _cannot(self, target: str, best: TextBox | None, score: float, why: str = "", also: str = "") -> str:
        near = f" (closest text: '{_quote(best.text)}', match {score:.0f}/100)" if best is not None else " (no text on the screen)"
        reason = why or f"cannot find '{_quote(target)}' on the screen{near}"
        return f"Thought: I {reason}{'; ' + also if also else ''}.\nAction: call_user()"
