"""UI-TARS prompts: the action space each model version was trained on, and the templates."""

from __future__ import annotations

from sensorium.stages.results.gui import CoordinateSpace

#: coordinate space each UI-TARS version answers in
VERSION_SPACE: dict[str, CoordinateSpace] = {"1.0": CoordinateSpace.REL1000, "1.5": CoordinateSpace.SMART_RESIZED_ABS}

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
