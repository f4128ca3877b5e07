"""Grouping a batch by input shape and putting the results back in order."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import pytest

from sensorium.stages.batching import group_indices, map_grouped


@pytest.mark.parametrize("keys, expected", [
    ([], []),
    (["a"], [[0]]),
    (["a", "b", "a"], [[0, 2], [1]]),
    ([(2, 3), (2, 3), (3, 2), (2, 3)], [[0, 1, 3], [2]]),
])
def test_group_indices(keys, expected):
    assert group_indices(keys) == expected


def test_map_grouped_calls_once_per_key_and_keeps_the_order():
    calls = []

    def fn(group):
        calls.append(list(group))
        return [x * 10 for x in group]

    assert map_grouped([1, 2, 3, 4], ["x", "y", "x", "z"], fn) == [10, 20, 30, 40]
    assert calls == [[1, 3], [2], [4]]


@pytest.mark.parametrize("keys, fn, expectation", [
    (["a", "a"], lambda g: g, does_not_raise()),
    (["a"], lambda g: g, pytest.raises(ValueError, match="one key per item, got 1 keys for 2 items")),
    (["a", "a"], lambda g: g[:1], pytest.raises(ValueError, match="one result per item, got 1 for a group of 2")),
])
def test_map_grouped_refuses_mismatches(keys, fn, expectation):
    with expectation:
        map_grouped([1, 2], keys, fn)
