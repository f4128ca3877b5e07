"""What a GUI agent decided: actions in screen pixels, and the step that holds them.

The two vocabularies every GUI module shares live here, once: :class:`ActionType` (what an
action does) and :class:`CoordinateSpace` (what a model's numbers mean). Both are ``str``
enums, so their members compare equal to, and serialise as, the strings on the wire.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from sensorium.stages.results.items import jsonable, unjson
from sensorium.stages.results.registry import register


class ActionType(StrEnum):
    """UI-TARS action types (computer, mobile and browser action spaces)."""

    CLICK = "click"
    LEFT_DOUBLE = "left_double"
    RIGHT_SINGLE = "right_single"
    DRAG = "drag"
    HOTKEY = "hotkey"
    TYPE = "type"
    SCROLL = "scroll"
    WAIT = "wait"
    FINISHED = "finished"
    CALL_USER = "call_user"
    LONG_PRESS = "long_press"
    OPEN_APP = "open_app"
    PRESS_HOME = "press_home"
    PRESS_BACK = "press_back"
    NAVIGATE = "navigate"
    NAVIGATE_BACK = "navigate_back"


#: every action type, in declaration order
GUI_ACTION_TYPES: tuple[ActionType, ...] = tuple(ActionType)


class CoordinateSpace(StrEnum):
    """The space a model's points are in (``stages/gui/coords.py`` converts each to screen pixels).

    REL1000: [0, 1000] relative to the screenshot (UI-TARS 1.0). SMART_RESIZED_ABS: pixels of
    the screenshot after Qwen2.5-VL's smart resize (UI-TARS 1.5). PHYSICAL_PX: pixels of the
    screenshot as captured. SCREEN_PX: logical screen pixels (CSS pixels, points).
    """

    REL1000 = "rel1000"
    SMART_RESIZED_ABS = "smart_resized_abs"
    PHYSICAL_PX = "physical_px"
    SCREEN_PX = "screen_px"


def _enum(cls: type[StrEnum], value: Any, where: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise ValueError(f"{where}: expected one of {', '.join(cls)}, got {value!r}") from None


@dataclass(frozen=True)
class ScreenGeometry:
    """The screen a step's actions were converted for: ``width``/``height`` logical screen
    pixels, ``dpr`` device pixels per logical pixel, ``image_width``/``image_height`` the
    screenshot in device pixels."""

    width: float
    height: float
    dpr: float
    image_width: int
    image_height: int

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ScreenGeometry":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls)})


@register
@dataclass(frozen=True, eq=False)
class GuiAction:
    """One action of a GUI agent, always resolved to screen pixels.

    ``x, y`` (and ``x2, y2`` for drag) are screen pixels (CSS/logical pixels of the screen the
    screenshot shows); ``params`` holds type-specific arguments (``content``, ``key``,
    ``direction``, ``app_name``, ``url``); ``raw`` is the model's text the action came from.
    """

    kind: ClassVar[str] = "gui_action"
    type: ActionType
    thought: str = ""
    x: float | None = None
    y: float | None = None
    x2: float | None = None
    y2: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    raw: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", _enum(ActionType, self.type, "GuiAction.type"))
        if (self.x is None) != (self.y is None) or (self.x2 is None) != (self.y2 is None):
            raise ValueError("GuiAction: x and y (and x2 and y2) come together")
        for name in ("x", "y", "x2", "y2"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, float(v))
        object.__setattr__(self, "params", dict(self.params))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"kind": self.kind, **out, "type": self.type.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GuiAction":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GuiAction):
            return NotImplemented
        return dataclasses.asdict(self) == dataclasses.asdict(other)

    __hash__ = None  # type: ignore[assignment]


@register
@dataclass(frozen=True, eq=False)
class GuiStep:
    """One step of a GUI agent: what it thought and the actions it chose, in screen pixels.

    ``actions`` run in order; ``raw`` is the model's whole text; ``space`` is the coordinate
    space the model answered in, ``screen`` the screen its points were converted for and
    ``backend`` the backend's name (None/empty for a step built by hand); ``metadata`` holds
    any other frame-level facts.
    """

    kind: ClassVar[str] = "gui_step"
    thought: str
    actions: tuple[GuiAction, ...] = ()
    reflection: str = ""
    summary: str = ""
    raw: str = ""
    space: CoordinateSpace | None = None
    screen: ScreenGeometry | None = None
    backend: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", tuple(self.actions))
        if not all(isinstance(a, GuiAction) for a in self.actions):
            raise ValueError("GuiStep.actions: expected GuiAction items")
        if self.space is not None:
            object.__setattr__(self, "space", _enum(CoordinateSpace, self.space, "GuiStep.space"))
        if self.screen is not None and not isinstance(self.screen, ScreenGeometry):
            raise ValueError(f"GuiStep.screen: expected ScreenGeometry or None, got {type(self.screen).__name__}")
        object.__setattr__(self, "metadata", dict(self.metadata))

    def __len__(self) -> int:
        return len(self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "thought": self.thought, "actions": [a.to_dict() for a in self.actions],
                "reflection": self.reflection, "summary": self.summary, "raw": self.raw,
                "space": None if self.space is None else self.space.value,
                "screen": None if self.screen is None else self.screen.to_dict(),
                "backend": self.backend, "metadata": jsonable(self.metadata)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GuiStep":
        screen = d.get("screen")
        return cls(d["thought"], tuple(GuiAction.from_dict(a) for a in d.get("actions", [])), d.get("reflection", ""),
                   d.get("summary", ""), d.get("raw", ""), space=d.get("space"),
                   screen=None if screen is None else ScreenGeometry.from_dict(screen), backend=d.get("backend", ""),
                   metadata=unjson(d.get("metadata", {})))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GuiStep):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
