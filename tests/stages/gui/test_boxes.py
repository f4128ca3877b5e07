"""Shared box geometry: centres, containment with a margin, and the gaps between boxes."""

from __future__ import annotations

import pytest

from sensorium.stages.gui.boxes import centre, gaps, inside


def test_centre_is_the_middle_of_both_axes():
    assert centre((10, 20, 30, 60)) == (20.0, 40.0)


@pytest.mark.parametrize("inner, outer, pad, expected", [
    ((12, 12, 20, 20), (10, 10, 30, 30), 0, True),
    ((9, 12, 20, 20), (10, 10, 30, 30), 0, False),  # one px out on the left
    ((9, 12, 20, 20), (10, 10, 30, 30), 2, True),  # within the margin
    ((8, 12, 20, 20), (10, 10, 30, 30), 2, True),
    ((7, 12, 20, 20), (10, 10, 30, 30), 2, False),
    ((12, 12, 33, 20), (10, 10, 30, 30), 3, True),
    ((12, 12, 34, 20), (10, 10, 30, 30), 3, False),
])
def test_inside_allows_pad_px_on_every_side(inner, outer, pad, expected):
    assert inside(inner, outer, pad) is expected


@pytest.mark.parametrize("a, b, expected", [
    ((0, 0, 10, 10), (15, 0, 20, 10), (5, -10)),  # side by side: a 5 px gap along x, overlapping along y
    ((0, 0, 10, 10), (0, 30, 10, 40), (-10, 20)),  # stacked
    ((0, 0, 10, 10), (5, 5, 20, 20), (-5, -5)),  # overlapping
])
def test_gaps_are_symmetric_and_negative_where_boxes_overlap(a, b, expected):
    assert gaps(a, b) == expected == gaps(b, a)
