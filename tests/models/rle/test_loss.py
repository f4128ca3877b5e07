"""The RLE loss: the paper's terms (checked against closed forms with an identity flow), masks,
gradients reaching mu, sigma and the flow, normalised densities and coverage, and a head trained
with it whose sigma tracks its error on held-out data."""

from __future__ import annotations

import math
from contextlib import nullcontext as does_not_raise

import pytest
import torch
from scipy.stats import norm, spearmanr

from sensorium.models.rle.heads import KeypointRLEHead
from sensorium.models.rle.loss import RLELoss, prior_log_prob


def identity_flow_loss(dim: int, prior) -> RLELoss:
    """A loss whose flow is exactly the identity (all weights zero), so G = N(0, I)."""
    loss = RLELoss(dim, prior, num_couplings=2, hidden=4)
    with torch.no_grad():
        for p in loss.parameters():
            p.zero_()
    return loss


def inputs(shape=(3, 4, 2), seed=0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    mu = torch.randn(shape, generator=gen)
    sigma = torch.rand(shape, generator=gen) * 0.5 + 0.1
    return mu, sigma, mu + sigma * torch.randn(shape, generator=gen)


@pytest.mark.parametrize("prior", ["laplace", "gaussian", None])
def test_equals_the_papers_negative_log_likelihood_with_an_identity_flow(prior):
    loss = identity_flow_loss(2, prior)
    mu, sigma, target = inputs()
    bar = (target - mu) / sigma
    log_g = -0.5 * (bar ** 2).sum(-1) - math.log(2 * math.pi)  # N(0, I) in 2-D
    log_q = {"laplace": -math.log(2) - bar.abs(), "gaussian": -0.5 * math.log(2 * math.pi) - 0.5 * bar ** 2,
             None: torch.zeros_like(bar)}[prior].sum(-1)
    expected = -log_g - log_q + torch.log(sigma).sum(-1)  # each term once per point
    torch.testing.assert_close(loss.point_nll(mu, sigma, target), expected)
    torch.testing.assert_close(loss(mu, sigma, target), expected.sum() / 3)
    assert RLELoss(2, prior, reduction="sum").reduction == "sum"


def test_weights_mask_coordinates_and_a_partly_masked_point_loses_its_flow_term():
    loss = identity_flow_loss(2, "laplace")
    mu, sigma, target = inputs()
    mu.requires_grad_(True)
    weight = torch.ones_like(mu)
    weight[0, 1] = 0.0          # keypoint 1 of sample 0 not labelled
    weight[1, 2, 0] = 0.0       # one coordinate of keypoint 2 of sample 1
    nll = loss.point_nll(mu, sigma, target, weight)
    assert float(nll[0, 1].detach()) == 0.0
    bar = (target[1, 2, 1] - mu[1, 2, 1]) / sigma[1, 2, 1]
    only_y = torch.log(sigma[1, 2, 1]) + math.log(2) + bar.abs()  # prior + log sigma of y, no flow term
    torch.testing.assert_close(nll[1, 2], only_y)
    nll.sum().backward()
    assert torch.all(mu.grad[0, 1] == 0) and torch.all(mu.grad[0, 0] != 0)


def test_gradients_reach_mu_sigma_and_every_flow_parameter():
    torch.manual_seed(0)
    loss = RLELoss(2, "laplace", num_couplings=2, hidden=8)
    with torch.no_grad():  # off the init, where the later couplings' first layers see near-zero input
        for p in loss.parameters():
            p.add_(0.1 * torch.randn_like(p))
    mu, sigma, target = inputs()
    mu.requires_grad_(True)
    sigma.requires_grad_(True)
    loss(mu, sigma, target).backward()
    assert torch.isfinite(mu.grad).all() and (mu.grad != 0).all()
    assert torch.isfinite(sigma.grad).all() and (sigma.grad != 0).all()
    for name, p in loss.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and (p.grad != 0).any(), name


def test_normaliser_and_coverage_match_closed_forms_with_an_identity_flow():
    # Q = G = N(0, 1): integral of N^2 is 1 / (2 sqrt(pi)) per coordinate; Q*G*s is N(0, 1/2).
    loss = identity_flow_loss(2, "gaussian")
    assert loss.log_normaliser() == pytest.approx(2 * math.log(2 * math.sqrt(math.pi)), abs=1e-4)
    one_d = identity_flow_loss(1, "gaussian")
    assert one_d.predicted_coverage(1.0, "model") == pytest.approx(2 * norm.cdf(math.sqrt(2)) - 1, abs=1e-3)
    assert one_d.predicted_coverage(1.0) == pytest.approx(2 * norm.cdf(1) - 1, abs=1e-3)  # the flow's N(0, 1)
    assert loss.predicted_coverage(2.0) == pytest.approx((2 * norm.cdf(2) - 1) ** 2, abs=1e-3)
    assert one_d.coverage_radius(0.95) == pytest.approx(1.959964, abs=2e-2)  # grid step 0.006
    points = torch.tensor([[0.3, -1.2]])
    expected = torch.distributions.Normal(0.0, math.sqrt(0.5)).log_prob(points).sum(-1)
    torch.testing.assert_close(loss.log_density(points, "model"), expected, atol=1e-4, rtol=1e-4)


def heteroscedastic(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (n, 8) and targets (n, 2, 2): linear in the features plus Laplace noise whose scale
    grows tenfold with feature 0, so a good sigma must follow feature 0."""
    x = torch.randn(n, 8, generator=gen)
    weights = torch.randn(8, 4, generator=torch.Generator().manual_seed(0)) * 0.1
    scale = 0.02 + 0.2 * torch.sigmoid(2 * x[:, :1])
    noise = torch.distributions.Laplace(0.0, 1.0).sample((n, 4))
    return x, (x @ weights + scale * noise).reshape(n, 2, 2)


@pytest.fixture(scope="module")
def trained() -> tuple[KeypointRLEHead, RLELoss]:
    torch.manual_seed(0)
    x, y = heteroscedastic(4096, torch.Generator().manual_seed(1))
    head, loss = KeypointRLEHead(8, 2), RLELoss(2, "laplace", num_couplings=4, hidden=32)
    opt = torch.optim.Adam([*head.parameters(), *loss.parameters()], lr=1e-2)
    for _ in range(300):
        idx = torch.randint(0, len(x), (512,))
        value = loss(*head(x[idx]), y[idx])
        opt.zero_grad()
        value.backward()
        opt.step()
    return head.eval(), loss.eval()


def test_trained_sigma_ranks_held_out_errors(trained):
    head, _ = trained
    torch.manual_seed(1)
    x, y = heteroscedastic(2048, torch.Generator().manual_seed(2))
    with torch.no_grad():
        mu, sigma = head(x)
    rho = spearmanr(sigma.ravel().numpy(), (y - mu).abs().ravel().numpy()).statistic
    # measured 0.47; a sigma that ignored feature 0 would give ~0 (the noise is otherwise i.i.d.)
    assert rho > 0.3


def test_the_flow_predicts_the_share_of_held_out_errors_inside_k_sigma(trained):
    head, loss = trained
    torch.manual_seed(1)
    x, y = heteroscedastic(2048, torch.Generator().manual_seed(2))
    with torch.no_grad():
        mu, sigma = head(x)
    bar = (y - mu) / sigma  # (N, 2, 2)
    for k in (loss.coverage_radius(0.5), loss.coverage_radius(0.9)):
        inside = float((bar.abs() <= k).all(dim=-1).float().mean())
        # measured within 0.005 of the prediction; a sigma 1.5x too large or too small misses by 0.07-0.2
        assert inside == pytest.approx(loss.predicted_coverage(k), abs=0.04), k


@pytest.mark.parametrize(("kwargs", "expectation"), [
    ({}, does_not_raise()),
    ({"sigma": torch.ones(3, 4, 1)}, pytest.raises(ValueError, match=r"expected sigma of mu's shape \(3, 4, 2\), got \(3, 4, 1\)")),
    ({"weight": torch.ones(3, 4)}, pytest.raises(ValueError, match=r"expected weight of mu's shape \(3, 4, 2\), got \(3, 4\)")),
    ({"mu": torch.zeros(3, 4, 3)}, pytest.raises(ValueError, match=r"expected mu of shape \(B, \.\.\., 2\), got \(3, 4, 3\)")),
])
def test_refuses_mismatched_shapes(kwargs, expectation):
    args = {"mu": torch.zeros(3, 4, 2), "sigma": torch.ones(3, 4, 2), "target": torch.zeros(3, 4, 2), "weight": None}
    args.update(kwargs)
    with expectation:
        RLELoss(2, num_couplings=1, hidden=4)(**args)


def test_refuses_unknown_options():
    with pytest.raises(ValueError, match="prior: expected one of"):
        RLELoss(2, "cauchy")
    with pytest.raises(ValueError, match="reduction: expected 'batch' or 'sum', got 'mean'"):
        RLELoss(2, reduction="mean")
    with pytest.raises(ValueError, match="density: expected one of"):
        identity_flow_loss(1, None).log_density(torch.zeros(1, 1), "prior")
    with pytest.raises(ValueError, match=r"p: expected a probability in \(0, 1\), got 1.5"):
        identity_flow_loss(1, None).coverage_radius(1.5)
    with pytest.raises(ValueError, match="dim 1 and 2, got dim 3"):
        identity_flow_loss(3, None).predicted_coverage(1.0)
    with pytest.raises(ValueError, match="prior: expected one of"):
        prior_log_prob(torch.zeros(1), "uniform")
