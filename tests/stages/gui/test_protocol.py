"""The one path from model text to a GuiStep: parse, then resolve into screen pixels with the
step's space, screen and backend as typed fields."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.gui.coords import Screen
from sensorium.stages.gui.parse import parse_output
from sensorium.stages.gui.protocol import AgentError, AgentRequest, resolve, step
from sensorium.stages.results import ActionType, CoordinateSpace, ScreenGeometry


def test_resolve_converts_points_and_records_the_space_screen_and_backend():
    parsed = parse_output("Thought: OK.\nAction: left_double(start_box='(500,250)')\n\ntype(content='hi\\n')")
    s = resolve(parsed, Screen(2000, 1000, dpr=2.0), "rel1000", backend="test")
    double, typed = s.actions
    assert double.type is ActionType.LEFT_DOUBLE and (double.x, double.y) == pytest.approx((500.0, 125.0))
    assert typed.type is ActionType.TYPE and typed.params == {"content": "hi\n", "submit": True}
    assert s.space is CoordinateSpace.REL1000 and s.backend == "test"
    assert s.screen == ScreenGeometry(width=1000.0, height=500.0, dpr=2.0, image_width=2000, image_height=1000)


class _Fixed:
    """A backend that answers one text in one space (the protocol's smallest real backend)."""

    name = "fixed"

    def __init__(self, text: str, space: str) -> None:
        self.text, self.space = text, space

    def complete(self, request: AgentRequest) -> tuple[str, str]:
        return self.text, self.space


@pytest.mark.parametrize("text, space, match", [
    ("Thought: x\nAction: click(start_box='(10,10)')", "inches", r"unknown coordinate space 'inches'; expected one of rel1000, "),
    ("Thought: x\nAction: click(start_box='(1010,10)')", "rel1000", "off-screen"),
    ("Thought: x\nAction: teleport()", "rel1000", "unknown action 'teleport'"),
])
def test_a_step_without_an_executable_action_is_an_agent_error(text, space, match):
    request = AgentRequest(np.zeros((100, 200, 3), np.uint8), "x", Screen(200, 100))
    with pytest.raises(AgentError, match=match) as info:
        step(_Fixed(text, space), request)
    assert info.value.raw == text
