"""IoU costs and the Hungarian matching: exact IoU values, a global optimum where greedy fails,
the threshold and the class gate."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.track.associate import INFEASIBLE, gate_classes, iou_matrix, linear_assignment


@pytest.mark.parametrize("a, b, expected", [
    ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
    ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
    ([0, 0, 10, 10], [10, 10, 20, 20], 0.0),
    ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # empty boxes: no division by zero
])
def test_iou_values(a, b, expected):
    assert iou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def test_iou_matrix_shape_and_empty_inputs():
    assert iou_matrix(np.zeros((3, 4)), np.zeros((0, 4))).shape == (3, 0)
    assert iou_matrix(np.array([[0, 0, 2, 2], [1, 1, 3, 3]]), np.array([[0, 0, 2, 2]])).shape == (2, 1)


def test_hungarian_finds_the_global_optimum_greedy_misses():
    # greedy takes (0, 0) at 0.1 and leaves (1, 1) at 0.9: total 1.0; the optimum is 0.2 + 0.2
    cost = np.array([[0.1, 0.2], [0.2, 0.9]])
    matches, ur, uc = linear_assignment(cost, 0.5)
    assert matches.tolist() == [[0, 1], [1, 0]] and ur.size == 0 and uc.size == 0


def test_pairs_above_the_threshold_stay_unmatched():
    matches, ur, uc = linear_assignment(np.array([[0.1, 0.95], [0.9, 0.85]]), 0.8)
    assert matches.tolist() == [[0, 0]] and ur.tolist() == [1] and uc.tolist() == [1]
    m, ur, uc = linear_assignment(np.zeros((0, 3)), 0.8)
    assert m.shape == (0, 2) and uc.tolist() == [0, 1, 2]


def test_class_gate_forbids_other_classes():
    cost = gate_classes(np.zeros((2, 2)), np.array([0, 1]), np.array([1, 1]))
    assert cost.tolist() == [[INFEASIBLE, INFEASIBLE], [0.0, 0.0]]
    matches, _, _ = linear_assignment(cost, 0.8)
    assert matches.tolist() == [[1, 0]] or matches.tolist() == [[1, 1]]


def test_fast_paths_match_the_full_hungarian_solution():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(0)
    for _ in range(50):
        a = rng.uniform(0, 300, (30, 2))
        b = a[rng.permutation(30)[:25]] + rng.normal(0, 8, (25, 2))
        boxes_a, boxes_b = np.concatenate([a, a + 40], axis=1), np.concatenate([b, b + 40], axis=1)
        iou = iou_matrix(boxes_a, boxes_b)
        lt = np.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
        rb = np.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
        np.testing.assert_allclose(iou, inter / (2 * 1600 - inter), atol=1e-12)
        cost = np.where(1 - iou <= 0.8, 1 - iou, INFEASIBLE)
        matches, _, _ = linear_assignment(cost, 0.8)
        r, c = linear_sum_assignment(cost)
        keep = cost[r, c] <= 0.8
        assert cost[matches[:, 0], matches[:, 1]].sum() == pytest.approx(cost[r[keep], c[keep]].sum())
        assert len(matches) == keep.sum()
