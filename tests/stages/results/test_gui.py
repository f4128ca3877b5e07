"""GUI actions and steps: one action-type and one coordinate-space vocabulary, typed step fields."""

from __future__ import annotations

import json

import pytest

from sensorium.stages.results import GUI_ACTION_TYPES, ActionType, CoordinateSpace, GuiAction, GuiStep, ScreenGeometry

def test_gui_action_checks_type_and_coordinates():
    with pytest.raises(ValueError, match=r"GuiAction.type: expected one of click, left_double, .*navigate_back, got 'teleport'"):
        GuiAction("teleport")
    with pytest.raises(ValueError, match="x and y"):
        GuiAction("click", x=1.0)


def test_action_types_are_one_vocabulary_of_strings():
    assert GUI_ACTION_TYPES == tuple(ActionType) and len(set(GUI_ACTION_TYPES)) == 16
    a = GuiAction("left_double", x=1, y=2)
    assert a.type is ActionType.LEFT_DOUBLE and a.type == "left_double"
    assert json.loads(json.dumps(a.to_dict()))["type"] == "left_double"


def test_step_fields_serialise_under_the_keys_the_rest_api_uses():
    screen = ScreenGeometry(width=640.0, height=400.0, dpr=2.0, image_width=1280, image_height=800)
    step = GuiStep("t", (GuiAction("wait"),), space="rel1000", screen=screen, backend="openai")
    assert step.space is CoordinateSpace.REL1000
    d = json.loads(json.dumps(step.to_dict()))
    assert d["space"] == "rel1000" and d["backend"] == "openai" and d["metadata"] == {}
    assert d["screen"] == {"width": 640.0, "height": 400.0, "dpr": 2.0, "image_width": 1280, "image_height": 800}


@pytest.mark.parametrize("kwargs, match", [
    (dict(space="pixels"), r"GuiStep.space: expected one of rel1000, smart_resized_abs, physical_px, screen_px, got 'pixels'"),
    (dict(screen={"width": 1}), "GuiStep.screen: expected ScreenGeometry or None, got dict"),
])
def test_step_checks_its_typed_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GuiStep("t", **kwargs)
