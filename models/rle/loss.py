"""The residual log-likelihood loss of RLE (Li et al., ICCV 2021, arXiv 2107.11291), with its flow.

For one point with D coordinates (a keypoint's (x, y), a gaze's (pitch, yaw)), target x,
prediction mu and scale sigma, the normalised residual is bar = (x - mu) / sigma and

    -log P(x) = -log G(bar) - log Q(bar) + sum_c log sigma_c      (+ log s, dropped)

G: the flow's density of the residual (flow.py, trained jointly with the head through this loss).
Q: a fixed prior on bar: Laplace(0, 1) per coordinate by default (the reference code's and
   MMPose's default ``q_dis``; the L1 loss's likelihood, suited to heavy-tailed errors), Gaussian(0, 1)
   as an option, or None: the "direct likelihood" variant without the residual trick.
sum log sigma: the change of variables from bar back to x, which makes a large sigma pay.
s = 1 / integral(Q * G): the normaliser the paper and the reference implementation leave out of
   training. s depends on the flow, so dropping it leaves -log G as the flow's only gradient: G
   becomes a maximum-likelihood fit to the residuals, not s * Q * G. :meth:`RLELoss.log_density`
   gives both, each integrating to 1: G (the one to check calibration against) and the paper's
   s * Q * G (s computed numerically).

Differences from the public code, on purpose: as we read them, the reference implementation and
MMPose's ``RLELoss`` broadcast the 2-D flow term onto both coordinates and add ``log sigma`` in
both the flow and the prior term, i.e. they count -log G and sum log sigma twice; here each term
appears once, as in the paper's equation. Reduction as theirs: the sum over points and coordinates divided
by the batch size (``reduction="batch"``), or the plain sum.

Weights: (..., D) per coordinate (0 = not labelled, e.g. an invisible keypoint): the prior and
log-sigma terms are weighted per coordinate; the flow term, a density of the whole point, takes
the point's smallest coordinate weight (a point with one unlabelled coordinate has no joint residual).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from sensorium.models.rle.flow import RealNVP

Prior = Literal["laplace", "gaussian"] | None
PRIORS = ("laplace", "gaussian", None)
Density = Literal["flow", "model"]
DENSITIES = ("flow", "model")
#: the half-width (in units of sigma) and points per axis of the grid :meth:`RLELoss.log_normaliser` integrates on
GRID_HALF_WIDTH = 12.0
GRID_STEPS = {1: 4000, 2: 480}  # cells per axis: widths 0.006 and 0.05


def prior_log_prob(bar: torch.Tensor, prior: Prior) -> torch.Tensor:
    """log Q per coordinate: bar (..., D) -> (..., D); zeros for ``prior=None``."""
    if prior == "laplace":
        return -math.log(2.0) - bar.abs()
    if prior == "gaussian":
        return -0.5 * math.log(2.0 * math.pi) - 0.5 * bar * bar
    if prior is None:
        return torch.zeros_like(bar)
    raise ValueError(f"prior: expected one of {PRIORS}, got {prior!r}")


class RLELoss(nn.Module):
    """Negative residual log-likelihood of targets under (mu, sigma); owns the flow it trains.

    Put ``loss.parameters()`` in the optimiser beside the head's. dim: coordinates per point (the
    last axis of mu, sigma, target). prior: Q (see the module docstring). reduction: "batch"
    (sum / batch size, the reference's) or "sum".
    """

    def __init__(self, dim: int = 2, prior: Prior = "laplace", *, num_couplings: int = 6, hidden: int = 64,
                 reduction: Literal["batch", "sum"] = "batch") -> None:
        super().__init__()
        if prior not in PRIORS:
            raise ValueError(f"prior: expected one of {PRIORS}, got {prior!r}")
        if reduction not in ("batch", "sum"):
            raise ValueError(f"reduction: expected 'batch' or 'sum', got {reduction!r}")
        self.flow = RealNVP(dim, num_couplings, hidden)
        self.dim, self.prior, self.reduction = dim, prior, reduction

    def _check(self, mu: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor,
               weight: torch.Tensor | None) -> None:
        if mu.dim() < 2 or mu.shape[-1] != self.dim:
            raise ValueError(f"RLELoss: expected mu of shape (B, ..., {self.dim}), got {tuple(mu.shape)}")
        for name, t in (("sigma", sigma), ("target", target)) + ((("weight", weight),) if weight is not None else ()):
            if t.shape != mu.shape:
                raise ValueError(f"RLELoss: expected {name} of mu's shape {tuple(mu.shape)}, got {tuple(t.shape)}")

    def point_nll(self, mu: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor,
                  weight: torch.Tensor | None = None) -> torch.Tensor:
        """-log P(target) per point: (B, ..., D) each -> (B, ...), weighted, nats.

        sigma must be positive (the heads' sigmoid makes it so); bar = (target - mu) / sigma.
        """
        self._check(mu, sigma, target, weight)
        bar = (target - mu) / sigma
        log_g = self.flow.log_prob(bar.reshape(-1, self.dim)).reshape(bar.shape[:-1])
        per_coord = torch.log(sigma) - prior_log_prob(bar, self.prior)  # (B, ..., D)
        if weight is None:
            return per_coord.sum(dim=-1) - log_g
        return (per_coord * weight).sum(dim=-1) - log_g * weight.amin(dim=-1)

    def forward(self, mu: torch.Tensor, sigma: torch.Tensor, target: torch.Tensor,
                weight: torch.Tensor | None = None) -> torch.Tensor:
        """Scalar loss: mu, sigma, target (and weight) (B, ..., D), in the same units (e.g. the crop's
        normalised coordinates for keypoints, radians for gaze)."""
        nll = self.point_nll(mu, sigma, target, weight)
        return nll.sum() / mu.shape[0] if self.reduction == "batch" else nll.sum()

    def _grid(self) -> tuple[torch.Tensor, float]:
        """Centres (M, D) of a regular grid of cells over [-GRID_HALF_WIDTH, GRID_HALF_WIDTH]^D and one
        cell's volume: the midpoint rule, and a k-sigma box at a multiple of the cell width is exact."""
        if self.dim not in GRID_STEPS:
            raise ValueError(f"numerical integration is implemented for dim 1 and 2, got dim {self.dim}")
        device = next(self.flow.parameters()).device
        cells = GRID_STEPS[self.dim]
        step = 2 * GRID_HALF_WIDTH / cells
        axis = -GRID_HALF_WIDTH + step * (torch.arange(cells, device=device, dtype=torch.float64) + 0.5)
        axis = axis.float()
        points = torch.cartesian_prod(*([axis] * self.dim)).reshape(-1, self.dim)
        return points, step ** self.dim

    @torch.no_grad()
    def log_normaliser(self) -> float:
        """log s = -log integral Q(bar) G(bar) d bar, by the midpoint rule on a grid (dim 1 or 2)."""
        points, cell = self._grid()
        log_qg = self.flow.log_prob(points) + prior_log_prob(points, self.prior).sum(dim=-1)
        return -float(torch.logsumexp(log_qg, dim=0) + math.log(cell))

    @torch.no_grad()
    def log_density(self, bar: torch.Tensor, density: Density = "flow") -> torch.Tensor:
        """A learned density of the normalised residual: bar (N, D) -> log p (N,), integrating to 1.

        "flow": G alone. The flow's only gradient is -log G(bar), so G is a maximum-likelihood fit
        to the residuals the head actually makes: the density to check calibration against
        (measured on a heteroscedastic toy set: G's predicted 0.25/0.5/1-sigma box coverage 0.54 /
        0.86 / 0.99 vs empirical 0.55 / 0.86 / 0.98). "model": s * Q * G, the paper's P, the density
        sigma was fitted under; it is narrower than the residuals (0.63 / 0.91 / 0.997 on the same set).
        """
        if density not in DENSITIES:
            raise ValueError(f"density: expected one of {DENSITIES}, got {density!r}")
        log_g = self.flow.log_prob(bar)
        if density == "flow":
            return log_g
        return log_g + prior_log_prob(bar, self.prior).sum(dim=-1) + self.log_normaliser()

    @torch.no_grad()
    def _grid_mass(self, density: Density) -> tuple[torch.Tensor, torch.Tensor]:
        """Grid points (M, D) and the probability mass (M,) of the cell around each."""
        points, cell = self._grid()
        return points, torch.exp(self.log_density(points, density)) * cell

    def predicted_coverage(self, k: float, density: Density = "flow") -> float:
        """Probability of the box |bar_c| <= k for every c under the learned density: the share of
        errors that should fall inside the k-sigma region, the number calibration compares with."""
        points, mass = self._grid_mass(density)
        return float(mass[(points.abs() <= k).all(dim=-1)].sum())

    def coverage_radius(self, p: float, density: Density = "flow") -> float:
        """The k whose k-sigma box holds probability ``p`` under the learned density (bisection):
        sigma is a scale, not a standard deviation, so "the 68% region" is k(0.68) * sigma."""
        if not 0.0 < p < 1.0:
            raise ValueError(f"p: expected a probability in (0, 1), got {p!r}")
        points, mass = self._grid_mass(density)
        radius = points.abs().amax(dim=-1)
        lo, hi = 0.0, GRID_HALF_WIDTH
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if float(mass[radius <= mid].sum()) < p else (lo, mid)
        return hi
