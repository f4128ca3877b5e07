"""RealNVP over the residual: an exact density (log-det equals the Jacobian's, integrates to 1 in
1-D and 2-D after a fit) that is high where the data is, invertible, and refusing bad shapes."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import pytest
import torch

from sensorium.models.rle.flow import RealNVP

LAPLACE_LOC, LAPLACE_SCALE = 0.5, 0.7
MODES = torch.tensor([[1.0, 0.5], [-1.0, -0.5]])
STDS = torch.tensor([[0.3, 0.3], [0.6, 0.2]])
# Midpoint-rule integral of a smooth density over a range holding all but ~1e-6 of its mass:
# grid error ~1e-5 at these steps; 2e-3 leaves room for tails the fit made heavier.
INTEGRAL_TOLERANCE = 2e-3


def fit(flow: RealNVP, data: torch.Tensor, steps: int) -> RealNVP:
    """Maximum likelihood of ``data`` (N, D) under ``flow``, Adam, fixed seed."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(flow.parameters(), lr=2e-2)
    for _ in range(steps):
        batch = data[torch.randint(0, len(data), (256,))]
        loss = -flow.log_prob(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return flow.eval()


def mixture(n: int, seed: int) -> torch.Tensor:
    """(n, 2) draws from two anisotropic Gaussians, half each."""
    gen = torch.Generator().manual_seed(seed)
    which = torch.arange(n) % 2
    return MODES[which] + STDS[which] * torch.randn(n, 2, generator=gen)


@pytest.fixture(scope="module")
def flow_1d() -> RealNVP:
    torch.manual_seed(0)
    data = torch.distributions.Laplace(LAPLACE_LOC, LAPLACE_SCALE).sample((4000, 1))
    return fit(RealNVP(1, num_couplings=2, hidden=16), data, steps=200)


@pytest.fixture(scope="module")
def flow_2d() -> RealNVP:
    torch.manual_seed(0)
    return fit(RealNVP(2, num_couplings=4, hidden=32), mixture(4000, seed=1), steps=250)


def test_1d_density_integrates_to_one_and_matches_the_laplace_it_was_fit_to(flow_1d):
    x = torch.linspace(-15, 15, 6001)[:, None]
    step = float(x[1] - x[0])
    with torch.no_grad():
        p = flow_1d.log_prob(x).exp()
    assert abs(float(p.sum()) * step - 1.0) < INTEGRAL_TOLERANCE
    true = torch.distributions.Laplace(LAPLACE_LOC, LAPLACE_SCALE).log_prob(x[:, 0]).exp()
    # total variation distance to the generating density (measured 0.04 = 0.08 / 2)
    assert 0.5 * float((p - true).abs().sum()) * step < 0.1
    peak = float(x[p.argmax(), 0])
    assert abs(peak - LAPLACE_LOC) < 0.3


def test_2d_density_integrates_to_one_and_is_high_where_the_data_is(flow_2d):
    axis = torch.linspace(-10, 10, 401)
    grid = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        mass = float(flow_2d.log_prob(grid).exp().sum()) * float(axis[1] - axis[0]) ** 2
        held_out = flow_2d.log_prob(mixture(1000, seed=2)).mean()
        uniform = flow_2d.log_prob(torch.rand(1000, 2, generator=torch.Generator().manual_seed(3)) * 8 - 4).mean()
        at_modes = flow_2d.log_prob(MODES)
        off_data = flow_2d.log_prob(torch.tensor([[0.0, 0.0], [1.0, -1.5], [-1.0, 1.5]]))
    assert abs(mass - 1.0) < INTEGRAL_TOLERANCE
    assert held_out > uniform + 5.0  # nats: data points are far likelier than points spread over the box
    assert at_modes.min() > off_data.max() + 2.0


def test_log_det_is_the_log_jacobian_determinant_and_inverse_undoes_forward():
    torch.manual_seed(0)
    flow = RealNVP(2, num_couplings=4, hidden=16)
    with torch.no_grad():  # move off the near-identity init so the check has something to check
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    r = torch.randn(5, 2)
    z, log_det = flow(r)
    for i in range(len(r)):
        jac = torch.autograd.functional.jacobian(lambda x: flow(x[None])[0][0], r[i])
        torch.testing.assert_close(log_det[i], torch.linalg.slogdet(jac).logabsdet, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(flow.inverse(z), r, atol=1e-4, rtol=1e-4)


def test_samples_follow_the_density():
    torch.manual_seed(0)
    flow = RealNVP(2, num_couplings=2, hidden=8)
    with torch.no_grad():
        draws = flow.sample(2000, generator=torch.Generator().manual_seed(0))
    assert draws.shape == (2000, 2)
    # the untrained flow is ~N(0, I): its draws' std is ~1 (error of the std estimate ~0.02)
    assert torch.allclose(draws.std(dim=0), torch.ones(2), atol=0.1)


@pytest.mark.parametrize(("dim", "shape", "expectation"), [
    (2, (4, 2), does_not_raise()),
    (1, (4, 1), does_not_raise()),
    (2, (4, 3), pytest.raises(ValueError, match=r"expected residuals of shape \(N, 2\), got \(4, 3\)")),
    (2, (4,), pytest.raises(ValueError, match=r"expected residuals of shape \(N, 2\), got \(4,\)")),
])
def test_refuses_residuals_of_the_wrong_shape(dim, shape, expectation):
    with expectation:
        assert RealNVP(dim, num_couplings=2, hidden=4).log_prob(torch.zeros(shape)).shape == (shape[0],)


def test_refuses_empty_configurations():
    with pytest.raises(ValueError, match="expected dim, num_couplings, hidden >= 1, got 0, 6, 64"):
        RealNVP(0)
