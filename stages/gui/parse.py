"""Parsing UI-TARS text output into actions, in the model's own coordinates.

What UI-TARS 1.0/1.5 (and its desktop app) emit, and what this accepts::

    Reflection: the menu did not open            (optional)
    Action_Summary: open the menu                (optional)
    Thought: I will click the File menu.
    Action: click(start_box='<|box_start|>(102,33)<|box_end|>')

    type(content='hello\\n')                     (more actions, after a blank line)

Section names may end in a full-width colon (``Thought：``); ``[EOS]`` and chat end tokens are
stripped. Coordinates come as ``(x,y)``, ``(x1,y1,x2,y2)``, ``[x1, y1, x2, y2]``,
``<|box_start|>...<|box_end|>``, ``<point>x y</point>`` or ``<bbox>x1 y1 x2 y2</bbox>``, in
the arguments ``start_box``, ``end_box``, ``point``, ``start_point``, ``end_point``; a box
means its centre. Calls are parsed as Python call expressions (:mod:`ast`), so escaped quotes
and ``\\n`` in ``type`` content decode exactly; a call ast cannot read gets one lenient
regex pass, and anything still ambiguous is a :class:`ParseError`, never a guessed click.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from sensorium.stages.results.gui import ActionType

#: action name → (canonical type, required arguments); aliases map the desktop app's names
ACTIONS: dict[str, tuple[ActionType, tuple[str, ...]]] = {
    "click": (ActionType.CLICK, ("start",)),
    "left_single": (ActionType.CLICK, ("start",)),
    "left_double": (ActionType.LEFT_DOUBLE, ("start",)),
    "right_single": (ActionType.RIGHT_SINGLE, ("start",)),
    "drag": (ActionType.DRAG, ("start", "end")),
    "select": (ActionType.DRAG, ("start", "end")),
    "hotkey": (ActionType.HOTKEY, ("key",)),
    "press": (ActionType.HOTKEY, ("key",)),
    "type": (ActionType.TYPE, ("content",)),
    "scroll": (ActionType.SCROLL, ("direction",)),
    "wait": (ActionType.WAIT, ()),
    "finished": (ActionType.FINISHED, ()),
    "call_user": (ActionType.CALL_USER, ()),
    "long_press": (ActionType.LONG_PRESS, ("start",)),
    "open_app": (ActionType.OPEN_APP, ("app_name",)),
    "press_home": (ActionType.PRESS_HOME, ()),
    "press_back": (ActionType.PRESS_BACK, ()),
    "navigate": (ActionType.NAVIGATE, ("url",)),
    "navigate_back": (ActionType.NAVIGATE_BACK, ()),
}
_POINT_ARGS = {"start_box": "start", "point": "start", "start_point": "start", "end_box": "end", "end_point": "end"}
_TEXT_ARGS = {"content", "key", "direction", "app_name", "url", "hotkey"}
_DIRECTIONS = ("up", "down", "left", "right")
_END_TOKENS = ("[EOS]", "<|im_end|>", "<|endoftext|>", "</s>")
_SECTION = re.compile(r"^\s*(Thought|Reflection|Action_Summary|Action)\s*[:：]\s?", re.MULTILINE)
_NUM = r"-?\d+(?:\.\d+)?"


class ParseError(ValueError):
    """Model output that does not name one well-formed action (the message says where)."""


@dataclass(frozen=True)
class Point:
    """A point in the model's coordinate space; ``box`` the (x1, y1, x2, y2) it came from, if any."""

    x: float
    y: float
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class ParsedAction:
    """type: canonical action type; points: ``start``/``end``; params: text arguments."""

    type: ActionType
    points: dict[str, Point] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class ParsedOutput:
    thought: str
    actions: tuple[ParsedAction, ...]
    reflection: str = ""
    summary: str = ""
    raw: str = ""


def parse_point(value: str) -> Point:
    """One coordinate argument in any accepted form → its point (a box's centre)."""
    v = value.strip()
    for tag in ("<|box_start|>", "<|box_end|>", "<|point_start|>", "<|point_end|>"):
        v = v.replace(tag, " ")
    m = re.fullmatch(rf"\s*<(point|bbox)>\s*({_NUM}(?:[\s,]+{_NUM})*)\s*</\1>\s*", v)
    if m:
        nums = [float(n) for n in re.split(r"[\s,]+", m.group(2).strip())]
    else:
        inner = re.fullmatch(rf"\s*[\(\[]?\s*({_NUM}(?:\s*[,\s]\s*{_NUM})*)\s*[\)\]]?\s*(?:,?\s*[\(\[]\s*({_NUM}\s*,\s*{_NUM})\s*[\)\]])?\s*", v)
        if not inner:
            raise ParseError(f"cannot read a point from {value!r}: expected (x,y), (x1,y1,x2,y2), <point>x y</point> or <bbox>x1 y1 x2 y2</bbox>")
        nums = [float(n) for n in re.split(r"[\s,]+", inner.group(1).strip())]
        if inner.group(2):
            nums += [float(n) for n in re.split(r"\s*,\s*", inner.group(2).strip())]
    if len(nums) == 2:
        return Point(nums[0], nums[1])
    if len(nums) == 4:
        x1, y1, x2, y2 = nums
        if x2 < x1 or y2 < y1:
            raise ParseError(f"box {value!r} has x2 < x1 or y2 < y1")
        return Point((x1 + x2) / 2, (y1 + y2) / 2, (x1, y1, x2, y2))
    raise ParseError(f"cannot read a point from {value!r}: found {len(nums)} numbers, expected 2 or 4")


def _call_ast(text: str) -> tuple[str, dict[str, str]]:
    node = ast.parse(text.strip(), mode="eval").body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ParseError(f"not an action call: {text!r}")
    if node.func.id not in ACTIONS:
        raise ParseError(f"unknown action {node.func.id!r} in {text.strip()!r}; expected one of {', '.join(sorted(ACTIONS))}")
    if node.args:
        raise ParseError(f"{node.func.id}(): expected keyword arguments only, got positional ones in {text!r}")
    kwargs = {}
    for kw in node.keywords:
        if kw.arg is None or not isinstance(kw.value, ast.Constant) or not isinstance(kw.value.value, (str, int, float)):
            raise ParseError(f"{node.func.id}(): argument {kw.arg!r} is not a plain string in {text!r}")
        kwargs[kw.arg] = str(kw.value.value)
    return node.func.id, kwargs


_LENIENT = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$", re.DOTALL)
_LENIENT_ARG = re.compile(r"(\w+)\s*=\s*(['\"])(.*?)\2\s*(?=,\s*\w+\s*=|$)", re.DOTALL)


def _call_lenient(text: str) -> tuple[str, dict[str, str]]:
    """``name(k='v', ...)`` whose values ast rejects (an unescaped quote inside ``content``)."""
    m = _LENIENT.match(text)
    if not m:
        raise ParseError(f"not an action call: {text!r}")
    name, body = m.group(1), m.group(2).strip()
    kwargs, pos = {}, 0
    for a in _LENIENT_ARG.finditer(body):
        if body[pos:a.start()].strip(" ,"):
            raise ParseError(f"{name}(): cannot read the arguments of {text!r}")
        kwargs[a.group(1)] = a.group(3).replace("\\n", "\n").replace("\\'", "'").replace('\\"', '"')
        pos = a.end()
    if body[pos:].strip(" ,"):
        raise ParseError(f"{name}(): cannot read the arguments of {text!r}")
    return name, kwargs


def parse_action(text: str) -> ParsedAction:
    """One call such as ``click(start_box='(10,20)')`` → :class:`ParsedAction`."""
    try:
        name, kwargs = _call_ast(text)
    except SyntaxError:
        name, kwargs = _call_lenient(text)
    if name not in ACTIONS:
        raise ParseError(f"unknown action {name!r} in {text.strip()!r}; expected one of {', '.join(sorted(ACTIONS))}")
    kind, required = ACTIONS[name]
    points: dict[str, Point] = {}
    params: dict[str, str] = {}
    for key, value in kwargs.items():
        if key in _POINT_ARGS:
            slot = _POINT_ARGS[key]
            if slot in points:
                raise ParseError(f"{name}(): two arguments give the {slot} point in {text.strip()!r}")
            points[slot] = parse_point(value)
        elif key in _TEXT_ARGS:
            params["key" if key == "hotkey" else key] = value
        else:
            raise ParseError(f"{name}(): unknown argument {key!r} in {text.strip()!r}")
    for need in required:
        if need not in points and need not in params:
            arg = {"start": "start_box or point", "end": "end_box or end_point"}.get(need, need)
            raise ParseError(f"{name}(): missing {arg} in {text.strip()!r}")
    if kind == ActionType.SCROLL:
        d = params["direction"].strip().lower()
        if d not in _DIRECTIONS:
            raise ParseError(f"scroll(): direction {params['direction']!r} is not one of {', '.join(_DIRECTIONS)}")
        params["direction"] = d
    if kind == ActionType.HOTKEY:
        params["key"] = " ".join(params["key"].lower().replace("+", " ").split())
        if not params["key"]:
            raise ParseError(f"hotkey(): empty key in {text.strip()!r}")
    return ParsedAction(kind, points, params, text.strip())


def _strip_end(text: str) -> str:
    for tok in _END_TOKENS:
        text = text.replace(tok, "")
    return text.strip()


def parse_output(text: str) -> ParsedOutput:
    """Whole model output → thought, reflection, summary and at least one action.

    Raises ParseError when there is no action or any action is malformed: one bad action in
    a multi-action answer rejects the answer, since executing a prefix of it is not what the
    model asked for.
    """
    raw = text
    text = _strip_end(text)
    sections: dict[str, str] = {}
    marks = list(_SECTION.finditer(text))
    if not marks:
        body = text  # a bare call, as grounding prompts return
    else:
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            sections[m.group(1)] = text[m.end():end].strip()
        if "Action" not in sections:
            raise ParseError("no 'Action:' section in the model output")
        body = sections["Action"]
    calls = [c.strip() for c in re.split(r"\n\s*\n", body) if c.strip()]
    if not calls:
        raise ParseError("the 'Action:' section is empty")
    actions = [parse_action(c) for c in calls]
    return ParsedOutput(sections.get("Thought", ""), tuple(actions), sections.get("Reflection", ""), sections.get("Action_Summary", ""), raw)
