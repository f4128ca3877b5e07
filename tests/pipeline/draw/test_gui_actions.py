"""A GUI agent's actions drawn on its screenshot, at screen-to-image scale."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.draw.gui_actions import GuiActionAnnotator, caption
from sensorium.stages.results import GuiAction, GuiStep, ScreenGeometry
from tests.pipeline.draw.conftest import changed

#: the photo (1280x720 device pixels) as the screenshot of a 640x360 screen at dpr 2
SCREEN = ScreenGeometry(width=640, height=360, dpr=2.0, image_width=1280, image_height=720)


def step(*actions: GuiAction) -> GuiStep:
    return GuiStep("", actions, screen=SCREEN)


def test_a_click_is_marked_at_its_scaled_point(zidane):
    out = GuiActionAnnotator().annotate(zidane.copy(), step(GuiAction("click", x=320, y=180)))
    assert changed(out, zidane, (620, 340, 661, 381)) > 50  # screen (320, 180) is image (640, 360)
    assert changed(out, zidane, (300, 160, 341, 201)) == 0  # not at the unscaled point
    bare = GuiActionAnnotator().annotate(zidane.copy(), GuiAction("click", x=320, y=180))  # no screen: image pixels
    assert changed(bare, zidane, (300, 160, 341, 201)) > 50


def test_double_click_draws_a_second_ring(zidane):
    single = GuiActionAnnotator().annotate(zidane.copy(), step(GuiAction("click", x=320, y=180)))
    double = GuiActionAnnotator().annotate(zidane.copy(), step(GuiAction("left_double", x=320, y=180)))
    assert changed(double, zidane, (580, 300, 700, 420)) > changed(single, zidane, (580, 300, 700, 420))


def test_a_drag_is_an_arrow_along_its_path(zidane):
    out = GuiActionAnnotator().annotate(zidane.copy(), step(GuiAction("drag", x=100, y=100, x2=300, y2=100)))
    assert changed(out, zidane, (300, 190, 500, 210)) > 300  # along y=200 from x=200 to 600 (image)
    assert changed(out, zidane, (300, 300, 500, 500)) == 0


def test_scroll_points_its_way(zidane):
    down = GuiActionAnnotator().annotate(zidane.copy(), step(GuiAction("scroll", x=320, y=100, params={"direction": "down"})))
    up = GuiActionAnnotator().annotate(zidane.copy(), step(GuiAction("scroll", x=320, y=100, params={"direction": "up"})))
    below, above = (620, 230, 661, 290), (620, 110, 661, 170)
    assert changed(down, zidane, below) > changed(down, zidane, above)
    assert changed(up, zidane, above) > changed(up, zidane, below)


def test_actions_without_a_point_are_captions_at_the_bottom(zidane):
    out = GuiActionAnnotator().annotate(zidane.copy(), step(GuiAction("type", params={"content": "hello"}),
                                                            GuiAction("hotkey", params={"key": "ctrl c"})))
    assert changed(out, zidane, (0, 620, 300, 720)) > 500
    assert changed(out, zidane, (0, 0, 1280, 560)) == 0
    assert caption(GuiAction("type", params={"content": "hello"})) == "type 'hello'"
    assert caption(GuiAction("hotkey", params={"key": "ctrl c"})) == "hotkey ctrl c"
    assert caption(GuiAction("finished")) == "finished"


def test_other_results_are_refused(zidane):
    with pytest.raises(ValueError, match="expected GuiStep or GuiAction, got ndarray"):
        GuiActionAnnotator().annotate(zidane.copy(), np.zeros(3))
