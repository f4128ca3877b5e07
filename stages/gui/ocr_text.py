"""Matching an asked label against what OCR read, the way OCR really reads a screen.

Real OCR splits one word into fragments ("NEXT" as "NE" + "XT"), and screens truncate long
text ("https://play.google.com/store/a…"). :func:`merge_fragments` adds, beside the lines
OCR returned, the runs of neighbouring fragments on one line with their joined box, and
:func:`match_score` scores a candidate against the target whole, as a contained word, and as
a truncation of either. :func:`find_text` picks the best candidate. Pure functions on
:class:`TextBox` lists: boxes are (x1, y1, x2, y2) in screenshot pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Box = tuple[float, float, float, float]
#: what screens and OCR put at the end of truncated text
ELLIPSIS = re.compile(r"\s*(?:…|\.{2,}|…\.*)\s*$")


@dataclass(frozen=True)
class TextBox:
    """An OCR line: text and its axis-aligned box (x1, y1, x2, y2) in screenshot pixels.
    ``parts`` > 1 for a run of fragments merged by :func:`merge_fragments`."""

    text: str
    box: Box
    score: float
    parts: int = 1


@dataclass(frozen=True)
class Match:
    """The best candidate for a target: its score (0-100), how it matched (``whole``,
    ``contained``, ``truncated``) and the plain whole-text ratio that breaks ties."""

    text: TextBox | None
    score: float
    how: str = ""
    whole: float = 0.0


def _same_line(a: TextBox, b: TextBox) -> bool:
    ha, hb = a.box[3] - a.box[1], b.box[3] - b.box[1]
    overlap = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    return overlap >= 0.6 * min(ha, hb) and max(ha, hb) <= 1.6 * min(ha, hb)


def merge_fragments(texts: list[TextBox], gap: float = 0.8) -> list[TextBox]:
    """``texts`` plus every run of 2-4 fragments on one line whose horizontal gaps are at most
    ``gap`` times the line height, as one :class:`TextBox` over their joined box (joined with
    no space where the gap is under a third of the height, as inside a word). The originals
    stay: a toolbar's separate items must still be found one by one."""
    rows = sorted(texts, key=lambda t: (t.box[0], t.box[1]))
    out = list(texts)
    for i, first in enumerate(rows):
        run, text = [first], first.text
        for nxt in rows[i + 1:]:
            last = run[-1]
            h = max(last.box[3] - last.box[1], 1.0)
            dx = nxt.box[0] - last.box[2]
            if not _same_line(last, nxt) or dx < -0.3 * h:
                continue
            if dx > gap * h or len(run) == 4:
                break
            text += ("" if dx < h / 3 else " ") + nxt.text
            run.append(nxt)
            box = (min(t.box[0] for t in run), min(t.box[1] for t in run), max(t.box[2] for t in run), max(t.box[3] for t in run))
            out.append(TextBox(text, box, min(t.score for t in run), len(run)))
    return out


def normalise(text: str) -> str:
    """Lower case, single spaces, no quotes or trailing colons/asterisks (form labels)."""
    return " ".join(text.lower().strip(" '\":*").split())


def _truncation(target: str, cand: str) -> float:
    """Score when one side is the other's start, cut short with an ellipsis on the screen (or
    in the request); 0 when neither is truncated or the kept start is too short to mean much."""
    from rapidfuzz import fuzz

    best = 0.0
    for short, full in ((cand, target), (target, cand)):
        if not ELLIPSIS.search(short):
            continue
        head = ELLIPSIS.sub("", short)
        if len(head) >= 4 and len(full) > len(head):
            best = max(best, fuzz.ratio(head, full[: len(head)]) * (0.85 + 0.15 * min(1.0, len(head) / 12)))
    return best


#: a name this short is only found inside a longer line as a whole word spelt exactly: fuzzy
#: matching lets "ok" hide in "brooklyn" and "mail" in "email"
SHORT_NAME = 5


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+|[^\w\s]", text)


def contained_score(target: str, cand: str) -> float:
    """Score (0-100) of ``target`` as a run of whole words inside a longer ``cand`` (both
    normalised): the best fuzzy ratio against any run of as many words (one fewer or more, as
    OCR joins or splits words), spaces not counted, or, at 0.9, as the start of such a run. A
    short name must equal a word run exactly. Never the middle or end of a word: "Mail" is not
    in "Email address", "OK" not in "Brooklyn"."""
    from rapidfuzz import fuzz

    words, want = _words(cand), _words(target)
    if not words or not want:
        return 0.0
    flat = "".join(want)
    best = 0.0
    for n in range(max(1, len(want) - 1), len(want) + 2):
        for i in range(len(words) - n + 1):
            run = "".join(words[i:i + n])
            if len(flat) <= SHORT_NAME:
                best = max(best, 100.0 if run == flat else 0.0)
            else:  # a longer name may also be a word's start, a little weaker ("Submit": "Submission")
                best = max(best, fuzz.ratio(flat, run), 0.9 * fuzz.ratio(flat, run[: len(flat)]))
    return best


def match_score(target: str, cand: str) -> tuple[float, str, float]:
    """(score 0-100, how, whole-text ratio) of on-screen ``cand`` for asked ``target``, both
    normalised. Spaces do not count (merged fragments may gain or lose one); inside a longer
    line only whole words count (:func:`contained_score`), and a long sentence holding them
    is a weaker match than a label that is them."""
    from rapidfuzz import fuzz

    whole = max(fuzz.ratio(target, cand), fuzz.ratio(target.replace(" ", ""), cand.replace(" ", "")))
    score, how = whole, "whole"
    if len(cand) >= len(target):
        part = contained_score(target, cand)
        if len(cand) > 2 * len(target) + 4:  # a sentence holding the word, not a label
            part *= 0.65 if len(target.replace(" ", "")) <= SHORT_NAME and len(_words(cand)) > 3 else 0.85
        if part > score:
            score, how = part, "contained"
    trunc = _truncation(target, cand)
    if trunc > score:
        score, how = trunc, "truncated"
    return score, how, whole


def find_text(target: str, texts: list[TextBox]) -> Match:
    """The candidate best matching ``target``. Ties on the score go to the candidate whose
    whole text is closest ("Select" picks the button, not the title "Select time"), then to
    fewer merged parts (a line OCR read whole over the same text pieced together)."""
    t = normalise(target)
    best, key = Match(None, 0.0), (0.0, 0.0, 0)
    for tb in texts:
        score, how, whole = match_score(t, normalise(tb.text))
        if (score, whole, -tb.parts) > key:
            best, key = Match(tb, score, how, whole), (score, whole, -tb.parts)
    return best
