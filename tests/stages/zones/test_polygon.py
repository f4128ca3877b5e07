"""Polygon zones: validation with named errors, point-in-polygon, inside/entered/left counts."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.stages.zones.polygon import PolygonZone, check_polygon, contains

SQUARE = [[10, 10], [50, 10], [50, 50], [10, 50]]


@pytest.mark.parametrize("points, raises", [
    (SQUARE, does_not_raise()),
    ([*SQUARE, SQUARE[0]], does_not_raise()),  # a closed ring
    ([[0, 0], [10, 0], [5, 8]], does_not_raise()),
    ([[0, 0], [10, 0]], pytest.raises(ValueError, match="door: a polygon needs at least 3 points, got 2")),
    ([[0, 0], [10, 10], [10, 0], [0, 10]], pytest.raises(ValueError, match="door: the polygon intersects itself")),
    ([[0, 0], [5, 5], [10, 10]], pytest.raises(ValueError, match="door: the polygon has no area")),
    ([[0, 0], [10, 0], [float("nan"), 5]], pytest.raises(ValueError, match="finite")),
    ([1, 2, 3], pytest.raises(ValueError, match=r"door: expected a list of \[x, y\] points")),
])
def test_check_polygon(points, raises):
    with raises:
        assert check_polygon(points, "door").shape[1] == 2


def test_contains_a_concave_polygon():
    u_shape = np.array([[0, 0], [30, 0], [30, 30], [20, 30], [20, 10], [10, 10], [10, 30], [0, 30]], float)
    pts = np.array([[5, 20], [15, 20], [25, 20], [15, 5], [40, 5]], float)
    assert contains(u_shape, pts).tolist() == [True, False, True, True, False]


def _step(zone, rows):
    ids = np.array([r[0] for r in rows], np.int64)
    anchors = np.array([[r[1]] for r in rows], float).reshape(len(rows), 1, 2)
    seen = np.array([not r[2] for r in rows], bool) if rows else np.zeros(0, bool)
    return zone.update(ids, anchors, seen)


def test_entering_and_leaving_a_zone():
    zone = PolygonZone("door", np.array(SQUARE, float))
    path = [(5, 30), (15, 30), (30, 30), (55, 30), (60, 30)]  # outside, in, in, out, out
    got = [_step(zone, [(1, p, False)]) for p in path]
    assert [g[1] for g in got] == [[], [1], [], [], []]
    assert [g[2] for g in got] == [[], [], [], [1], []]
    assert [g[0] for g in got] == [[], [1], [1], [], []]
    assert (zone.entered, zone.left) == (1, 1)


def test_a_track_first_seen_inside_is_inside_but_did_not_enter():
    zone = PolygonZone("door", np.array(SQUARE, float))
    assert _step(zone, [(1, (30, 30), False)]) == ([1], [], [])
    assert zone.entered == 0


def test_a_lost_track_keeps_its_side_and_its_prediction_never_counts():
    zone = PolygonZone("door", np.array(SQUARE, float))
    _step(zone, [(1, (30, 30), False)])
    assert _step(zone, [(1, (70, 30), True)]) == ([1], [], [])  # predicted outside: still last seen inside
    assert _step(zone, [(1, (30, 30), False)]) == ([1], [], [])  # seen again inside: nothing happened
    assert (zone.entered, zone.left) == (0, 0)


def test_an_ended_track_leaves_the_inside_list_without_counting_as_left():
    zone = PolygonZone("door", np.array(SQUARE, float))
    _step(zone, [(1, (30, 30), False), (2, (30, 30), False)])
    assert _step(zone, [(2, (30, 30), False)]) == ([2], [], [])
    assert zone.left == 0
