"""Zones and counting lines with their counts."""

from __future__ import annotations

import numpy as np

from sensorium.pipeline.draw.zones import ZoneAnnotator
from sensorium.stages.results import LineTally, ZoneCounts, ZoneTally
from tests.pipeline.draw.conftest import changed


def test_zones_and_lines_are_drawn_where_they_are(zidane):
    counts = ZoneCounts((ZoneTally("door", [1], 1, 0, polygon=[(100, 300), (300, 300), (300, 500), (100, 500)]),),
                        (LineTally("gate", 2, 1, start=(800, 150), end=(800, 600)),))
    out = ZoneAnnotator().annotate(zidane.copy(), counts)
    assert changed(out, zidane, (95, 250, 305, 505)) > 600  # the outline and its label
    assert changed(out, zidane, (795, 200, 805, 600)) > 1000  # the line
    assert changed(out, zidane, (150, 350, 250, 450)) == 0  # a zone is outlined, not filled


def test_a_zone_without_a_polygon_draws_nothing(zidane):
    out = ZoneAnnotator().annotate(zidane.copy(), ZoneCounts((ZoneTally("nowhere"),)))
    np.testing.assert_array_equal(out, zidane)
