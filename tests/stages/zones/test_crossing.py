"""The shared side-change rule: first sight sets the side, k observations in a row change it."""

from __future__ import annotations

import pytest

from sensorium.stages.zones.crossing import SideChanges


def _changes(sides, k=1):
    s = SideChanges(k)
    return [s.observe(7, side) for side in sides]


def test_first_observation_only_sets_the_side():
    assert _changes([1, 1, 0]) == [None, None, (1, 0)]


def test_unobserved_frames_change_nothing():
    assert _changes([0, None, None, 1, None, 1]) == [None, None, None, (0, 1), None, None]


def test_hysteresis_rides_out_jitter():
    assert _changes([0, 1, 0, 1, 0, 1, 1, 1], k=3) == [None] * 7 + [(0, 1)]


def test_ended_tracks_are_forgotten():
    s = SideChanges()
    s.observe(1, 0)
    s.keep_only([2])
    assert s.side(1) is None and s.observe(1, 1) is None


def test_min_frames_must_be_positive():
    with pytest.raises(ValueError, match="min_frames: expected an integer >= 1, got 0"):
        SideChanges(0)
