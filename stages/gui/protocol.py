"""The agent protocol: what a backend gets (:class:`AgentRequest`), what it answers (UI-TARS
text and its coordinate space), and the one path from that text to a :class:`GuiStep` in
screen pixels (:func:`step`: parse, then :func:`resolve`). Backends live elsewhere: the local
one in ``local.py``, the HTTP one in ``pipeline/agent/``; both import this, never each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sensorium.stages.gui.coords import CoordinateError, Screen, to_screen
from sensorium.stages.gui.parse import ParsedOutput, ParseError, parse_output
from sensorium.stages.results.gui import ActionType, CoordinateSpace, GuiAction, GuiStep, ScreenGeometry


@dataclass(frozen=True)
class AgentRequest:
    """What a backend needs for one step. image: (H, W, 3) uint8 RGB screenshot (device
    pixels); history: earlier (screenshot or None, model text) pairs, oldest first."""

    image: np.ndarray
    instruction: str
    screen: Screen
    history: tuple[tuple[np.ndarray | None, str], ...] = ()


class Backend(Protocol):
    name: str

    def complete(self, request: AgentRequest) -> tuple[str, CoordinateSpace]:
        """Model text in UI-TARS format, and the coordinate space its points are in."""


def resolve(parsed: ParsedOutput, screen: Screen, space: CoordinateSpace | str, *, backend: str = "") -> GuiStep:
    """Parsed output in model coordinates → :class:`GuiStep` in screen pixels.

    Raises CoordinateError when a point falls off the screen or ``space`` is not a
    :class:`CoordinateSpace`.
    """
    try:
        space = CoordinateSpace(space)
    except ValueError:
        raise CoordinateError(f"unknown coordinate space {space!r}; expected one of {', '.join(CoordinateSpace)}") from None
    actions = []
    for a in parsed.actions:
        xy: dict[str, float] = {}
        if "start" in a.points:
            xy["x"], xy["y"] = to_screen(a.points["start"].x, a.points["start"].y, space, screen)
        if "end" in a.points:
            xy["x2"], xy["y2"] = to_screen(a.points["end"].x, a.points["end"].y, space, screen)
        params: dict[str, Any] = dict(a.params)
        if a.type == ActionType.TYPE:
            params["submit"] = params["content"].endswith("\n")
        actions.append(GuiAction(a.type, thought=parsed.thought, params=params, raw=a.text, **xy))
    geometry = ScreenGeometry(width=screen.width, height=screen.height, dpr=screen.dpr,
                              image_width=screen.image_width, image_height=screen.image_height)
    return GuiStep(parsed.thought, tuple(actions), parsed.reflection, parsed.summary, parsed.raw,
                   space=space, screen=geometry, backend=backend)


class AgentError(ValueError):
    """A step that produced no executable action: unparsable model text or an off-screen point.
    ``raw`` keeps the model's text for the response."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


def step(backend: Backend, request: AgentRequest) -> GuiStep:
    """One agent step: ask the backend, parse, resolve. Raises AgentError saying what was wrong."""
    text, space = backend.complete(request)
    try:
        parsed = parse_output(text)
        return resolve(parsed, request.screen, space, backend=backend.name)
    except (ParseError, CoordinateError) as exc:
        raise AgentError(f"{type(exc).__name__}: {exc}", raw=text) from None
