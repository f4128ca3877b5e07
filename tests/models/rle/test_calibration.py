"""Calibration metrics on residuals whose distribution is known exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sensorium.models.rle import calibration as cal

N = 40_000


def _gaussian_box_radius(p: float) -> float:
    """k with P(|z1| <= k and |z2| <= k) = p for independent standard normals."""
    return float(stats.norm.ppf((1 + np.sqrt(p)) / 2))


@pytest.fixture(scope="module")
def heteroscedastic():
    rng = np.random.default_rng(0)
    scale = rng.uniform(0.1, 3.0, (N, 2))
    return rng.normal(size=(N, 2)) * scale, scale


@pytest.mark.parametrize("p", [0.2, cal.ONE_SIGMA, 0.9, cal.TWO_SIGMA])
def test_true_scales_with_the_true_radius_are_calibrated(heteroscedastic, p):
    residual, scale = heteroscedastic
    assert cal.coverage(residual, scale, _gaussian_box_radius(p)) == pytest.approx(p, abs=0.01)


def test_wrong_scales_are_not(heteroscedastic):
    residual, scale = heteroscedastic
    assert cal.coverage(residual, scale * 0.5, _gaussian_box_radius(cal.TWO_SIGMA)) < 0.8  # overconfident


def test_reliability_curve_on_the_diagonal_only_when_calibrated(heteroscedastic):
    residual, scale = heteroscedastic
    radii = [_gaussian_box_radius(p) for p in cal.RELIABILITY_PS]
    good = cal.reliability(residual, scale, radii)
    assert good.max_gap < 0.015 and good.to_json()["nominal"][0] == 0.05
    assert cal.reliability(residual, scale * 2, radii).max_gap > 0.2


def test_empirical_radius_from_a_calibration_split_transfers(heteroscedastic):
    residual, scale = heteroscedastic
    half = N // 2
    k = cal.empirical_radius(residual[:half], scale[:half], 0.9)
    assert cal.coverage(residual[half:], scale[half:], k) == pytest.approx(0.9, abs=0.01)
    assert k == pytest.approx(_gaussian_box_radius(0.9), rel=0.03)


def test_spearman_ranks_informative_signals_only(heteroscedastic):
    residual, scale = heteroscedastic
    error = np.linalg.norm(residual, axis=1)
    assert cal.spearman(scale.mean(1), error) > 0.5
    assert abs(cal.spearman(np.random.default_rng(1).permutation(scale.mean(1)), error)) < 0.03
    assert cal.spearman(np.ones(N), error) == 0.0  # a constant says nothing


def test_a_per_point_scale_broadcasts_over_coordinates():
    residual = np.array([[0.5, -1.5], [2.0, 0.1], [0.2, 0.2]])
    assert np.allclose(cal.normalised_radius(residual, np.array([1.0, 2.0, 0.5])), [1.5, 1.0, 0.4])


@pytest.mark.parametrize("residual, scale, match", [
    (np.zeros(3), np.ones(3), "residual of shape"),
    (np.zeros((3, 2)), np.ones((3, 3)), "scale of shape"),
    (np.zeros((3, 2)), np.zeros((3, 2)), "positive"),
])
def test_bad_input_names_what_was_wrong(residual, scale, match):
    with pytest.raises(ValueError, match=match):
        cal.coverage(residual, scale, 1.0)


def test_bad_probability_and_radii():
    with pytest.raises(ValueError, match="probability"):
        cal.empirical_radius(np.ones((3, 2)), np.ones((3, 2)), 1.0)
    with pytest.raises(ValueError, match="one radius per p"):
        cal.reliability(np.ones((3, 2)), np.ones((3, 2)), [1.0], [0.5, 0.6])
    with pytest.raises(ValueError, match=">= 3 points"):
        cal.spearman(np.ones(2), np.ones(2))
