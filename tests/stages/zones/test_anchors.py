"""Anchor points of boxes, as supervision's Position names them."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import numpy as np
import pytest

from sensorium.stages.zones.anchors import anchor_points


@pytest.mark.parametrize("anchor, expected, raises", [
    ("center", [15, 30], does_not_raise()),
    ("bottom_center", [15, 40], does_not_raise()),
    ("top_left", [10, 20], does_not_raise()),
    ("bottom_right", [20, 40], does_not_raise()),
    ("center_left", [10, 30], does_not_raise()),
    ("middle", None, pytest.raises(ValueError, match="anchor: expected one or more of center")),
])
def test_anchor_of_a_box(anchor, expected, raises):
    with raises:
        got = anchor_points(np.array([[10, 20, 20, 40]]), anchor)
        assert got.shape == (1, 1, 2) and got[0, 0].tolist() == expected


def test_several_anchors_per_box():
    got = anchor_points(np.array([[0, 0, 4, 2], [10, 10, 12, 12]]), ("top_left", "bottom_right"))
    assert got.shape == (2, 2, 2)
    assert got[1].tolist() == [[10, 10], [12, 12]]
