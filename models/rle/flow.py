"""RealNVP over the normalised residual bar_mu = (x - mu) / sigma: an exact density, cheap to train.

Why a flow: RLE needs log G(bar_mu) of an arbitrary residual distribution (heavy tails, skew,
correlation of x and y) with an exact, differentiable log-density; a normalising flow gives it by
the change of variables, log G(r) = log N(f(r); 0, I) + log |det df/dr|.

Base distribution: a standard normal, as in the reference implementation. The heavy-tailed
Laplace is the *residual prior* Q of the loss (loss.py), not the flow's base: a Gaussian base keeps
the flow's log-density smooth at the origin, where most residuals are, and the coupling layers
reshape its tails where the data asks for it.

Layers. The paper's flow is 3 pairs of affine coupling layers with alternating masks (each half
of the vector rescaled and shifted by small MLPs of the other half). A coupling layer over a 1-D
vector has nothing to condition on and collapses to one affine map, so every coupling is followed
by an element-wise sinh-arcsinh bijection (Jones & Pewsey 2009: y = sinh(d * asinh(x) - e)) that
bends tails and skews each coordinate. In 1-D the flow is then a stack of affine + sinh-arcsinh
maps, which fits unimodal heavy- or light-tailed residuals; in 2-D the couplings add the
dependence between x and y.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LOG_2PI = math.log(2.0 * math.pi)


def _mlp(dim: int, hidden: int, out_activation: nn.Module | None) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden), nn.LeakyReLU(),
                               nn.Linear(hidden, dim)]
    if out_activation is not None:
        layers.append(out_activation)
    for layer in layers:
        if isinstance(layer, nn.Linear):
            # Small weights: each layer starts near the identity, so the untrained flow is ~N(0, I).
            nn.init.xavier_uniform_(layer.weight, gain=0.01)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class AffineCoupling(nn.Module):
    """z = keep * r + (1 - keep) * (r * exp(s(keep * r)) + t(keep * r)); log|det| = sum(s over the rest).

    ``keep``: (D,) 0/1 mask of the coordinates passed through unchanged and conditioned on. The
    scale net ends in tanh, bounding each log-scale to (-1, 1) per layer, as the reference does.
    """

    def __init__(self, keep: torch.Tensor, hidden: int) -> None:
        super().__init__()
        self.register_buffer("keep", keep.float())
        dim = keep.numel()
        self.scale = _mlp(dim, hidden, nn.Tanh())
        self.shift = _mlp(dim, hidden, None)

    def forward(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """r (N, D) -> (z (N, D), log|det dz/dr| (N,))."""
        kept = r * self.keep
        s = self.scale(kept) * (1 - self.keep)
        t = self.shift(kept) * (1 - self.keep)
        return kept + (1 - self.keep) * (r * torch.exp(s) + t), s.sum(dim=-1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        kept = z * self.keep
        s = self.scale(kept) * (1 - self.keep)
        t = self.shift(kept) * (1 - self.keep)
        return kept + (1 - self.keep) * (z - t) * torch.exp(-s)


def _log_cosh(u: torch.Tensor) -> torch.Tensor:
    a = u.abs()  # log cosh u = |u| + log(1 + exp(-2|u|)) - log 2, without overflow
    return a + F.softplus(-2 * a) - math.log(2.0)


class SinhArcsinh(nn.Module):
    """Element-wise z = sinh(d * asinh(r) - e), d = exp(log_d) > 0: a monotone bijection of R.

    d < 1 thickens the tails, d > 1 thins them, e skews; starts as the identity (d=1, e=0).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.log_d = nn.Parameter(torch.zeros(dim))
        self.e = nn.Parameter(torch.zeros(dim))

    def forward(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """r (N, D) -> (z (N, D), log|det dz/dr| (N,))."""
        d = torch.exp(self.log_d)
        u = d * torch.asinh(r) - self.e
        log_det = self.log_d + _log_cosh(u) - 0.5 * torch.log1p(r * r)  # d cosh(u) / sqrt(1 + r^2)
        return torch.sinh(u), log_det.sum(dim=-1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sinh((torch.asinh(z) + self.e) / torch.exp(self.log_d))


class RealNVP(nn.Module):
    """Density G(r) of a D-dimensional residual (D = 2 for a keypoint or a gaze (pitch, yaw), 1 for
    one coordinate): ``log_prob(r)`` (N, D) -> (N,), exact, base N(0, I).

    num_couplings: affine coupling layers with alternating masks (the paper: 6, three pairs); each
    is followed by a :class:`SinhArcsinh`. hidden: width of the coupling MLPs (paper: 64).
    """

    def __init__(self, dim: int = 2, num_couplings: int = 6, hidden: int = 64) -> None:
        super().__init__()
        if dim < 1 or num_couplings < 1 or hidden < 1:
            raise ValueError(f"RealNVP: expected dim, num_couplings, hidden >= 1, got {dim}, {num_couplings}, {hidden}")
        self.dim = dim
        # Alternate halves; in 1-D every coupling transforms the one coordinate (an affine map).
        masks = [(torch.arange(dim) % 2 == i % 2) & (dim > 1) for i in range(num_couplings)]
        self.couplings = nn.ModuleList(AffineCoupling(m, hidden) for m in masks)
        self.marginals = nn.ModuleList(SinhArcsinh(dim) for _ in masks)

    def forward(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """r (N, D) residual -> (z (N, D) in the base space, log|det dz/dr| (N,))."""
        if r.dim() != 2 or r.shape[-1] != self.dim:
            raise ValueError(f"RealNVP: expected residuals of shape (N, {self.dim}), got {tuple(r.shape)}")
        log_det = r.new_zeros(r.shape[0])
        z = r
        for coupling, marginal in zip(self.couplings, self.marginals):
            z, ld_c = coupling(z)
            z, ld_m = marginal(z)
            log_det = log_det + ld_c + ld_m
        return z, log_det

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, D) in the base space -> r (N, D); ``sample`` draws through it."""
        r = z
        for coupling, marginal in zip(reversed(self.couplings), reversed(self.marginals)):
            r = coupling.inverse(marginal.inverse(r))
        return r

    def log_prob(self, r: torch.Tensor) -> torch.Tensor:
        """log G(r): (N, D) -> (N,) natural-log density."""
        z, log_det = self(r)
        return -0.5 * (z * z).sum(dim=-1) - 0.5 * self.dim * LOG_2PI + log_det

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n residuals (n, D) drawn from G."""
        z = torch.randn(n, self.dim, generator=generator, device=self.couplings[0].keep.device)
        return self.inverse(z)
