"""The ``gui_agent`` stage: a screenshot and an instruction → a thought and actions in screen
pixels, UI-TARS style.

Every backend answers in UI-TARS text, and every answer goes through the same two steps:
:func:`~sensorium.stages.gui_parse.parse_output` (model coordinates) and :func:`resolve`
(screen pixels, through :mod:`~sensorium.stages.gui_coords`). The local grounding backend
writes its choice in that text too, in ``physical_px``, so there is one path from text to a
click and wrong coordinates cannot come from a second one.

Backends implement :class:`Backend`: ``complete(request) -> (text, space)``. The local one
(``stages/gui_local.py``) is built here; the OpenAI-compatible one makes HTTP calls, so it
lives in ``pipeline/gui_openai.py`` and is passed in (``GuiAgentStage(config, backend=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np

from .base import Stage, StageConfig
from .frame import Frame
from .gui_coords import CoordinateError, Screen, to_screen
from .gui_parse import ParsedOutput, ParseError, parse_output
from .results import GuiAction, GuiStep

#: coordinate space each UI-TARS version answers in
VERSION_SPACE = {"1.0": "rel1000", "1.5": "smart_resized_abs"}

_ACTIONS_COMPUTER = {
    "1.0": """click(start_box='<|box_start|>(x1,y1)<|box_end|>')
left_double(start_box='<|box_start|>(x1,y1)<|box_end|>')
right_single(start_box='<|box_start|>(x1,y1)<|box_end|>')
drag(start_box='<|box_start|>(x1,y1)<|box_end|>', end_box='<|box_start|>(x3,y3)<|box_end|>')
hotkey(key='')
type(content='')  # end content with \\n to submit
scroll(start_box='<|box_start|>(x1,y1)<|box_end|>', direction='down or up or right or left')
wait()  # five seconds, then a new screenshot
finished(content='')
call_user()  # the task cannot go on without the user""",
    "1.5": """click(point='<point>x1 y1</point>')
left_double(point='<point>x1 y1</point>')
right_single(point='<point>x1 y1</point>')
drag(start_point='<point>x1 y1</point>', end_point='<point>x2 y2</point>')
hotkey(key='ctrl c')  # lowercase keys separated by spaces, at most three
type(content='')  # escape ' and " and \\n; end with \\n to submit
scroll(point='<point>x1 y1</point>', direction='down or up or right or left')
wait()  # five seconds, then a new screenshot
finished(content='xxx')
call_user()  # the task cannot go on without the user""",
}
_ACTIONS_MOBILE = """click(start_box='<|box_start|>(x1,y1)<|box_end|>')
long_press(start_box='<|box_start|>(x1,y1)<|box_end|>')
type(content='')  # end content with \\n to submit
scroll(start_box='<|box_start|>(x1,y1)<|box_end|>', direction='down or up or right or left')
open_app(app_name='')
drag(start_box='<|box_start|>(x1,y1)<|box_end|>', end_box='<|box_start|>(x3,y3)<|box_end|>')
press_home()
press_back()
finished(content='')"""

_TEMPLATE = """You are a GUI agent. You get a task, your earlier actions and screenshots, and you choose the next action that moves the task forward.

## Output Format
```
Thought: ...
Action: ...
```

## Action Space
{actions}

## Note
- Write the Thought part in {language}.
- In Thought, say in one short sentence what you plan to do next and which element you act on.

## User Instruction
{instruction}
"""

GROUNDING_TEMPLATE = """Output only the coordinate of one point in your response. What element matches the following task: {instruction}"""


def build_prompt(instruction: str, *, kind: str = "computer", version: str = "1.5", language: str = "English") -> str:
    """The system/user prompt text for a UI-TARS model: ``kind`` computer, mobile or grounding."""
    if version not in VERSION_SPACE:
        raise ValueError(f"unknown UI-TARS version {version!r}; expected one of {', '.join(VERSION_SPACE)}")
    if kind == "grounding":
        return GROUNDING_TEMPLATE.format(instruction=instruction)
    if kind == "computer":
        actions = _ACTIONS_COMPUTER[version]
    elif kind == "mobile":
        actions = _ACTIONS_MOBILE
    else:
        raise ValueError(f"unknown prompt kind {kind!r}; expected computer, mobile or grounding")
    return _TEMPLATE.format(actions=actions, instruction=instruction, language=language)


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

    def complete(self, request: AgentRequest) -> tuple[str, str]:
        """Model text in UI-TARS format, and the coordinate space its points are in."""


def resolve(parsed: ParsedOutput, screen: Screen, space: str, *, backend: str = "") -> GuiStep:
    """Parsed output in model coordinates → :class:`GuiStep` in screen pixels.

    Raises CoordinateError when a point falls off the screen.
    """
    actions = []
    for a in parsed.actions:
        xy: dict[str, float] = {}
        if "start" in a.points:
            xy["x"], xy["y"] = to_screen(a.points["start"].x, a.points["start"].y, space, screen)
        if "end" in a.points:
            xy["x2"], xy["y2"] = to_screen(a.points["end"].x, a.points["end"].y, space, screen)
        params: dict[str, Any] = dict(a.params)
        if a.type == "type":
            params["submit"] = params["content"].endswith("\n")
        actions.append(GuiAction(a.type, thought=parsed.thought, params=params, raw=a.text, **xy))
    meta = {"backend": backend, "space": space, "screen": {"width": screen.width, "height": screen.height, "dpr": screen.dpr,
                                                             "image_width": screen.image_width, "image_height": screen.image_height}}
    return GuiStep(parsed.thought, tuple(actions), parsed.reflection, parsed.summary, parsed.raw, meta)


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


@dataclass(frozen=True)
class GuiAgentConfig(StageConfig):
    """backend: ``local`` (OCR grounding, no model) or ``openai`` (passed in by the pipeline).
    min_score: the local backend's fuzzy-match floor (0-100) before it calls the user.
    options: the local backend's other keywords, e.g. ``{"icons": {"weights": "clip_icons"}}``
    to ground icons by CLIP similarity (see ``stages/gui_icons.py``)."""

    backend: str = "local"
    min_score: float = 70.0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.backend not in ("local", "openai"):
            raise ValueError(f"backend: expected 'local' or 'openai', got {self.backend!r}")
        if not 0 <= self.min_score <= 100:
            raise ValueError(f"min_score: expected 0..100, got {self.min_score}")


class GuiAgentStage(Stage):
    """Frames carry the screenshot as ``image`` and ``meta["instruction"]``; optional
    ``meta["screen"]`` ({"width", "height"} logical pixels and/or "dpr") and
    ``meta["history"]``. The result is a :class:`GuiStep`."""

    name = "gui_agent"
    Config = GuiAgentConfig

    def __init__(self, config: Any = None, *, backend: Backend | None = None) -> None:
        super().__init__(config)
        self._backend = backend

    def setup(self) -> None:
        if self._backend is not None:
            return
        if self.config.backend == "openai":
            raise ValueError("the openai backend makes HTTP calls: build it with sensorium.pipeline.gui_openai and pass it in")
        from .gui_local import LocalBackend

        self._backend = LocalBackend(min_score=self.config.min_score, **self.config.options)

    @property
    def backend(self) -> Backend:
        self.setup()
        return self._backend

    def check(self, frame: Frame) -> None:
        super().check(frame)
        if not str(frame.meta.get("instruction", "")).strip():
            raise ValueError("no instruction (frame.meta['instruction'])")

    def act(self, image: np.ndarray, instruction: str, screen: Screen | None = None,
            history: Sequence[tuple[np.ndarray | None, str]] = ()) -> GuiStep:
        h, w = image.shape[:2]
        screen = screen or Screen(w, h)
        if (screen.image_width, screen.image_height) != (w, h):
            raise CoordinateError(f"screen metadata says a {screen.image_width}x{screen.image_height} screenshot, the image is {w}x{h}")
        return step(self.backend, AgentRequest(image, instruction, screen, tuple(history)))

    def process(self, frames: Sequence[Frame]) -> list[GuiStep]:
        out = []
        for f in frames:
            h, w = f.image.shape[:2]
            s = f.meta.get("screen") or {}
            screen = Screen(w, h, s.get("width"), s.get("height"), float(s.get("dpr", 1.0)))
            out.append(self.act(f.image, str(f.meta["instruction"]), screen, f.meta.get("history", ())))
        return out
