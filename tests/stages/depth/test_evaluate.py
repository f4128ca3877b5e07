"""Disparity scores: Middlebury conventions on hand-made maps."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.stages.depth.evaluate import evaluate_disparity


def test_scores_count_only_known_ground_truth() -> None:
    gt = np.array([[10.0, 10.0, 10.0, 10.0, np.inf, 0.0]], np.float32)
    est = np.array([[10.5, 11.5, 13.0, -1.0, 3.0, 3.0]], np.float32)
    s = evaluate_disparity(est, gt)
    assert s.pixels == 4 and s.coverage == pytest.approx(0.75)
    assert s.epe == pytest.approx((0.5 + 1.5 + 3.0) / 3)
    assert (s.bad1, s.bad2, s.bad4) == pytest.approx((2 / 3, 1 / 3, 0.0))
    masked = evaluate_disparity(est, gt, mask=np.array([[True, False, False, True, True, True]]))
    assert masked.pixels == 2 and masked.epe == pytest.approx(0.5) and masked.coverage == pytest.approx(0.5)


@pytest.mark.parametrize(
    "est, gt, message",
    [
        (np.zeros((2, 3), np.float32), np.ones((3, 2), np.float32), "expected two"),
        (np.zeros((2, 3), np.float32), np.full((2, 3), np.inf, np.float32), "no valid pixel"),
    ],
)
def test_bad_input_is_named(est: np.ndarray, gt: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_disparity(est, gt)


def test_no_estimate_is_zero_coverage() -> None:
    s = evaluate_disparity(np.full((2, 2), -1, np.float32), np.ones((2, 2), np.float32))
    assert s.coverage == 0 and np.isnan(s.epe)
