"""The colour bar: the colour map on the panel's right, ticks in metres (or disparity pixels)."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.draw.colorbar import draw_colorbar, format_tick, tick_values
from sensorium.pipeline.draw.colormap import LUT, ColorRange


def test_ticks_are_the_ends_and_round_values_between():
    ticks = tick_values(ColorRange.metres(0.34, 1.9))
    assert ticks[:2] == pytest.approx([0.34, 1.9])
    assert {0.5, 1.0} <= set(np.round(ticks[2:], 6))
    assert all(0.34 - 1e-9 <= t <= 1.9 + 1e-9 for t in ticks)
    px = tick_values(ColorRange(8.0, 64.0, "px"))
    assert px[:2] == [8.0, 64.0] and 10.0 in px and 50.0 in px
    assert tick_values(ColorRange(0.0, 2.0))[:1] == [0.5]  # the far end at infinity has no tick


@pytest.mark.parametrize("value, unit, text", [(0.345, "m", "0.34 m"), (1.5, "m", "1.5 m"), (20.0, "m", "20 m"), (64.0, "px", "64 px")])
def test_ticks_read_in_their_unit(value, unit, text):
    assert format_tick(value, unit) == text


def test_bar_shows_near_red_at_the_top_on_the_right():
    panel = np.zeros((480, 640, 3), np.uint8)
    draw_colorbar(panel, ColorRange.metres(0.5, 5.0))
    cols = np.flatnonzero(panel[240].any(axis=-1))
    bar_x = cols.max() - 2
    assert bar_x > 600  # on the right edge
    top, bottom = panel[60, bar_x], panel[420, bar_x]
    assert top[0] > top[2] and bottom[2] > bottom[0]  # near (red) at the top, far (blue) at the bottom
    assert any((LUT == panel[240, bar_x]).all(axis=1))  # the bar is the colour map itself
    labels = panel[:, 400:bar_x - 10]
    assert (labels == 255).all(axis=-1).sum() > 100  # white tick labels beside it


def test_a_tiny_panel_gets_no_bar():
    panel = np.zeros((6, 8, 3), np.uint8)
    assert not draw_colorbar(panel, ColorRange.metres(0.5, 5.0)).any()
