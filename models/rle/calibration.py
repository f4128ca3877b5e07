"""Is sigma trustworthy? Coverage, rank correlation and reliability curves of predicted scales.

Pure metrics on numpy arrays: no torch, no model. What they take:

- ``residual`` (N, D): target - prediction per point (a keypoint's (x, y), a gaze's (yaw, pitch));
- ``scale`` (N, D) or (N,): the model's sigma (or any per-sample spread signal, broadcast over D);
- ``radius``: the half-width k of the box |residual_c| / scale_c <= k that holds probability p
  under the density the scales were fitted with. For RLE that is the learned flow density G,
  ``RLELoss.coverage_radius(p)``: sigma is a scale, not a standard deviation, so the p-region is
  not "1 sigma" of a Gaussian. For a head without a density (L1, a heatmap's spread) the radius
  is read off a separate calibration split (:func:`empirical_radius`), a post-hoc fit.

Observed coverage is the share of held-out points inside their box; calibrated means observed
equals nominal p for every p (the reliability curve on the diagonal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: the nominal masses of the Gaussian's 1- and 2-sigma intervals: the "1-sigma" and "2-sigma"
#: regions of the learned density are the boxes holding these probabilities under it
ONE_SIGMA, TWO_SIGMA = 0.6827, 0.9545
#: the p grid of a reliability curve
RELIABILITY_PS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))


def _check(residual: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    residual = np.asarray(residual, np.float64)
    scale = np.asarray(scale, np.float64)
    if residual.ndim != 2 or len(residual) == 0:
        raise ValueError(f"expected residual of shape (N, D) with N > 0, got {residual.shape}")
    if scale.shape == residual.shape[:1]:
        scale = np.repeat(scale[:, None], residual.shape[1], axis=1)
    if scale.shape != residual.shape:
        raise ValueError(f"expected scale of shape {residual.shape} or {residual.shape[:1]}, got {scale.shape}")
    if not np.all(scale > 0) or not np.all(np.isfinite(scale)):
        raise ValueError("expected positive, finite scales")
    return residual, scale


def normalised_radius(residual: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """max_c |residual_c| / scale_c per point: (N, D), (N, D) or (N,) -> (N,). A point lies in the
    k-box exactly when this is <= k."""
    residual, scale = _check(residual, scale)
    return np.abs(residual / scale).max(axis=1)


def coverage(residual: np.ndarray, scale: np.ndarray, radius: float) -> float:
    """Share of points inside their box |residual_c| <= radius * scale_c."""
    return float(np.mean(normalised_radius(residual, scale) <= radius))


def empirical_radius(residual: np.ndarray, scale: np.ndarray, p: float) -> float:
    """The k whose box holds a share ``p`` of these points (a quantile): the post-hoc radius for a
    head that has no density of its own, fitted on a calibration split, never the test split."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p: expected a probability in (0, 1), got {p!r}")
    return float(np.quantile(normalised_radius(residual, scale), p))


def spearman(signal: np.ndarray, error: np.ndarray) -> float:
    """Spearman's rank correlation of a per-point uncertainty signal with the error size (N,) each;
    0.0 when the signal is constant (no information, e.g. an L1 head)."""
    signal, error = np.asarray(signal, np.float64).ravel(), np.asarray(error, np.float64).ravel()
    if signal.shape != error.shape or signal.size < 3:
        raise ValueError(f"expected signal and error of one shape with >= 3 points, got {signal.shape} and {error.shape}")
    if np.ptp(signal) == 0 or np.ptp(error) == 0:
        return 0.0
    return float(stats.spearmanr(signal, error).statistic)


@dataclass(frozen=True)
class Reliability:
    """nominal (P,): probabilities p; observed (P,): held-out share inside each p-region;
    radius (P,): the box half-widths used (units of scale)."""

    nominal: np.ndarray
    observed: np.ndarray
    radius: np.ndarray

    @property
    def max_gap(self) -> float:
        """Largest |observed - nominal| over the curve (0 = perfectly calibrated)."""
        return float(np.max(np.abs(self.observed - self.nominal)))

    def to_json(self) -> dict[str, list[float]]:
        return {"nominal": self.nominal.round(4).tolist(), "observed": self.observed.round(4).tolist(),
                "radius": self.radius.round(4).tolist()}


def reliability(residual: np.ndarray, scale: np.ndarray, radii: Sequence[float],
                ps: Sequence[float] = RELIABILITY_PS) -> Reliability:
    """Observed vs nominal coverage over ``ps``; ``radii[i]`` is the box half-width holding ``ps[i]``
    under the density being checked (``RLELoss.coverage_radius`` or :func:`empirical_radius`)."""
    if len(radii) != len(ps):
        raise ValueError(f"expected one radius per p, got {len(radii)} radii for {len(ps)} ps")
    r = normalised_radius(residual, scale)
    observed = np.array([np.mean(r <= k) for k in radii])
    return Reliability(np.asarray(ps, np.float64), observed, np.asarray(radii, np.float64))
