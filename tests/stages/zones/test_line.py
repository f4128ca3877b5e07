"""Counting lines: sides of a directed line, crossings in and out, jitter and lost tracks."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.zones.anchors import anchor_points
from sensorium.stages.zones.line import IN, OUT, LineCounter, line_sides

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
# a vertical line at x = 100 drawn downwards: its left on screen is +x, so moving right is "in"
START, END = np.array([100.0, 0.0]), np.array([100.0, 100.0])


def _box(cx, cy=50, w=10):
    return [cx - w / 2, cy - 5, cx + w / 2, cy + 5]


def _step(line, rows):
    ids = np.array([r[0] for r in rows], np.int64)
    anchors = anchor_points(np.array([r[1] for r in rows], float).reshape(-1, 4), CORNERS)
    seen = np.array([not r[2] for r in rows], bool)
    return line.update(ids, anchors, seen)


def test_sides_match_supervision_convention():
    # a horizontal line drawn left to right: "in" is above it on screen (supervision counts that as in)
    anchors = np.array([[[50, 10]], [[50, 90]], [[50, 50]], [[250, 10]]], float)
    assert line_sides(np.array([0.0, 50.0]), np.array([200.0, 50.0]), anchors).tolist() == [IN, OUT, 0, 0]


def test_a_box_straddling_the_line_is_on_neither_side():
    anchors = anchor_points(np.array([_box(98), _box(90), _box(110)], float), CORNERS)
    assert line_sides(START, END, anchors).tolist() == [0, OUT, IN]


def test_a_track_crossing_twice_counts_in_then_out():
    line = LineCounter("gate", START, END)
    events = [_step(line, [(1, _box(x), False)]) for x in (80, 90, 110, 120, 110, 90, 80)]
    assert [e for e in events if e != ([], [])] == [([1], []), ([], [1])]
    assert (line.in_count, line.out_count) == (1, 1)


def test_jitter_on_the_line_counts_nothing_with_corners():
    line = LineCounter("gate", START, END)
    for x in (90, 98, 102, 97, 103, 99, 90):  # straddles, then back where it came from
        _step(line, [(1, _box(x), False)])
    assert (line.in_count, line.out_count) == (0, 0)


def test_jitter_across_the_line_needs_min_frames():
    line = LineCounter("gate", START, END, min_frames=3)
    xs = [90, 110, 90, 110, 90, 110, 110, 110]  # flickers, then stays right for 3 frames
    events = [_step(line, [(1, _box(x, w=4), False)]) for x in xs]
    assert (line.in_count, line.out_count) == (1, 0) and events[-1] == ([1], [])


def test_a_lost_track_predicted_across_is_counted_once_when_seen():
    line = LineCounter("gate", START, END)
    _step(line, [(1, _box(80), False)])
    assert _step(line, [(1, _box(110), True)]) == ([], [])  # prediction: not an observation
    assert _step(line, [(1, _box(120), True)]) == ([], [])
    assert _step(line, [(1, _box(130), False)]) == ([1], [])  # seen on the other side: one crossing
    assert _step(line, [(1, _box(140), False)]) == ([], [])
    assert (line.in_count, line.out_count) == (1, 0)


def test_a_prediction_that_drifts_back_never_counts():
    line = LineCounter("gate", START, END)
    _step(line, [(1, _box(80), False)])
    _step(line, [(1, _box(120), True)])
    _step(line, [(1, _box(80), False)])
    assert (line.in_count, line.out_count) == (0, 0)


def test_passing_beside_a_short_line_is_not_a_crossing():
    line = LineCounter("gate", np.array([100.0, 0.0]), np.array([100.0, 30.0]))
    for x in (80, 120):
        _step(line, [(1, _box(x, cy=60), False)])
    assert (line.in_count, line.out_count) == (0, 0)


def test_two_tracks_counted_separately():
    line = LineCounter("gate", START, END)
    _step(line, [(1, _box(80), False), (2, _box(120), False)])
    assert _step(line, [(1, _box(120), False), (2, _box(80), False)]) == ([1], [2])


def test_a_line_needs_two_points():
    with pytest.raises(ValueError, match="gate: a line needs two distinct points"):
        LineCounter("gate", START, START)
