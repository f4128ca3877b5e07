"""ZoneCounts: per-zone and per-line tallies through JSON, validated, totals for the summary."""

from __future__ import annotations

import json

import pytest

from sensorium.stages.results import LineTally, ZoneCounts, ZoneTally, result_from_dict


def test_round_trip_and_totals():
    c = ZoneCounts((ZoneTally("door", [4, 2], 3, 1, [2], [], [(0, 0), (5, 0), (5, 5)]),), (LineTally("gate", 2, 1, [7], [], (0, 1), (9, 1)),))
    back = result_from_dict(json.loads(json.dumps(c.to_dict())))
    assert back == c and back.zones[0].inside == (2, 4)
    assert c.totals() == {"zones": {"door": {"inside": 2, "entered": 3, "left": 1}}, "lines": {"gate": {"in": 2, "out": 1}}}


def test_names_are_unique_and_counts_not_negative():
    with pytest.raises(ValueError, match="names must be unique"):
        ZoneCounts((ZoneTally("x"),), (LineTally("x"),))
    with pytest.raises(ValueError, match="counts must be >= 0"):
        LineTally("gate", -1)
