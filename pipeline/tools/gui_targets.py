"""Grounding targets with exact boxes, asked of a GUI agent and scored ScreenSpot-style.

A target is one element a user names ("click More options"): its screenshot, the name, the
platform it comes from (``mobile``: Rico's Android screens, ``web``: pages rendered by
headless Chromium), its kind (``text``: the name is written on it; ``icon``: it is a glyph
named only by its accessibility label) and every box (xyxy, screenshot pixels) that answers
it. Each answer is one outcome: ``hit`` (a click inside a box), ``wrong_click`` (a click
elsewhere: the failure that costs a user), ``call_user`` (a refusal with its reason: the
backend was unsure) or ``error`` (no usable action).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

import numpy as np

Box = tuple[float, float, float, float]
OUTCOMES = ("hit", "wrong_click", "call_user", "error")


@dataclass(frozen=True)
class GuiTarget:
    """One named element; ``boxes`` are every element on that screen the name fits."""

    platform: Literal["mobile", "web"]
    kind: Literal["text", "icon"]
    screen_id: str
    image: Path
    text: str
    boxes: tuple[Box, ...]

    def __post_init__(self) -> None:
        if not self.text.strip() or not self.boxes:
            raise ValueError(f"target on {self.screen_id}: expected a name and at least one box, got {self.text!r}, {self.boxes}")

    def contains(self, x: float, y: float) -> bool:
        return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in self.boxes)


@dataclass(frozen=True)
class Outcome:
    """What the agent did with one target: outcome (one of :data:`OUTCOMES`), the click point
    (screenshot pixels) and the agent's thought (the reason, for a refusal)."""

    target: GuiTarget
    outcome: str
    point: tuple[float, float] | None
    thought: str = ""


def _read(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path))
    if img is None:
        raise FileNotFoundError(f"cannot read screenshot {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class _MemoReader:
    """A backend's OCR reader that reads each distinct image once: many targets asked of one
    screenshot (and of its re-read tiles) cost one OCR pass, not one per target. The lines
    are the reader's own; only repeats are skipped (their timings are not added again)."""

    def __init__(self, reader: Any, memo: dict) -> None:
        self.reader, self.memo = reader, memo

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)

    def read(self, image: np.ndarray, timings: dict[str, float]) -> list:
        key = (getattr(self.reader, "max_side", None), image.shape, hashlib.sha1(np.ascontiguousarray(image).data).hexdigest())
        if key not in self.memo:
            self.memo[key] = self.reader.read(image, timings)
        return list(self.memo[key])


@contextmanager
def remembered_ocr(agent: Any, memo: dict) -> Iterator[None]:
    """Within the block, ``agent``'s local backend (or the :class:`LocalBackend` passed as
    ``agent``) reads each distinct image once, keeping the lines in ``memo`` (pass the same
    dict to share them between runs: the text and the icon floors read the same Rico
    screens). For tests and development; the benchmark's request times need OCR on every call."""
    backend = getattr(agent, "backend", agent)
    real = backend.reader
    backend.reader = _MemoReader(real, memo)
    try:
        yield
    finally:
        backend.reader = real


def evaluate(agent: Any, targets: Iterable[GuiTarget], instruction: str = "click {}") -> list[Outcome]:
    """Ask ``agent`` (a :class:`~sensorium.stages.gui.stage.GuiAgentStage`) for every target,
    the way the CLI and the REST service ask it (``act``, OCR on every call)."""
    from sensorium.stages.gui.protocol import AgentError

    out, cache = [], {}
    for t in targets:
        if t.image not in cache:
            cache.clear()  # targets come grouped by screenshot
            cache[t.image] = _read(t.image)
        try:
            step = agent.act(cache[t.image], instruction.format(t.text))
        except AgentError as exc:
            out.append(Outcome(t, "error", None, str(exc)))
            continue
        first = step.actions[0] if step.actions else None
        if first is None or (first.type != "call_user" and first.x is None):
            out.append(Outcome(t, "error", None, step.thought))
        elif first.type == "call_user":
            out.append(Outcome(t, "call_user", None, step.thought))
        else:
            out.append(Outcome(t, "hit" if t.contains(first.x, first.y) else "wrong_click", (first.x, first.y), step.thought))
    return out


def rates(results: Sequence[Outcome]) -> dict[str, float]:
    """Share of each outcome, plus ``n``; empty results give n = 0 and no shares."""
    n = len(results)
    counts = Counter(r.outcome for r in results)
    return {"n": float(n), **({k: counts[k] / n for k in OUTCOMES} if n else {})}


def table(results: Sequence[Outcome]) -> str:
    """A markdown table, one row per (platform, kind) present and the totals, ScreenSpot-style:
    success, wrong clicks and refusals as shares of the targets."""
    rows = ["| platform | kind | targets | success | wrong click | call_user | no action |", "|---|---|---:|---:|---:|---:|---:|"]
    groups = sorted({(r.target.platform, r.target.kind) for r in results})
    for platform, kind in groups + [("all", "all")]:
        sub = [r for r in results if platform == "all" or (r.target.platform, r.target.kind) == (platform, kind)]
        if not sub:
            continue
        s = rates(sub)
        rows.append(f"| {platform} | {kind} | {len(sub)} | {s['hit']:.1%} | {s['wrong_click']:.1%} | {s['call_user']:.1%} | {s['error']:.1%} |")
    return "\n".join(rows)
