"""RLE heads: (mu, sigma) per coordinate in the documented shapes, sigma positive and bounded,
no flow inside, bad features refused with the shape that was expected."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise

import pytest
import torch

from sensorium.models.rle.heads import SIGMA_FLOOR, GazeRLEHead, KeypointRLEHead, RLEHead


@pytest.mark.parametrize(("head", "shape"), [
    (KeypointRLEHead(16, 33), (33, 2)),
    (KeypointRLEHead(16, 1), (1, 2)),
    (GazeRLEHead(16), (2,)),
])
def test_outputs_mu_and_a_positive_bounded_sigma_per_coordinate(head, shape):
    torch.manual_seed(0)
    mu, sigma = head(torch.randn(4, 16) * 50)  # large features saturate some sigmoids
    assert mu.shape == sigma.shape == (4, *shape)
    assert mu.dtype == sigma.dtype == torch.float32
    assert (sigma >= SIGMA_FLOOR).all() and (sigma <= 1 + SIGMA_FLOOR).all()
    assert torch.isfinite(torch.log(sigma)).all()
    assert (mu.abs() > 1).any()  # mu is not squashed: a linear map


def test_holds_only_two_linear_maps():
    head = KeypointRLEHead(16, 5)
    assert {n for n, _ in head.named_parameters()} == {"mu.weight", "mu.bias", "sigma.weight", "sigma.bias"}
    assert sum(p.numel() for p in head.parameters()) == 2 * (16 * 10 + 10)


def test_each_sample_is_computed_on_its_own():
    torch.manual_seed(0)
    head = GazeRLEHead(8)
    x = torch.randn(3, 8)
    mu, sigma = head(x)
    mu1, sigma1 = head(x[1:2])
    torch.testing.assert_close(mu[1:2], mu1)
    torch.testing.assert_close(sigma[1:2], sigma1)


@pytest.mark.parametrize(("features", "expectation"), [
    (torch.zeros(2, 16), does_not_raise()),
    (torch.zeros(0, 16), does_not_raise()),
    (torch.zeros(2, 15), pytest.raises(ValueError, match=r"KeypointRLEHead: expected features of shape \(B, 16\), got \(2, 15\)")),
    (torch.zeros(2, 4, 16), pytest.raises(ValueError, match=r"expected features of shape \(B, 16\), got \(2, 4, 16\)")),
])
def test_refuses_features_of_the_wrong_shape(features, expectation):
    with expectation:
        mu, _ = KeypointRLEHead(16, 3)(features)
        assert mu.shape == (features.shape[0], 3, 2)


@pytest.mark.parametrize(("in_features", "shape"), [(0, (2,)), (4, ()), (4, (0, 2))])
def test_refuses_empty_configurations(in_features, shape):
    with pytest.raises(ValueError, match="expected in_features >= 1 and a non-empty positive shape"):
        RLEHead(in_features, shape)
