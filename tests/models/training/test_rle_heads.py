"""The three heads: one backbone, their outputs' shapes and meaning, and that each one learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sensorium.models.data.eyes import eye_batch
from sensorium.models.training.rle_heads import (KINDS, BinnedGazeHead, HeadLoss, HeadModel, HeadsConfig, SoftArgmaxHead,
                                                 parameter_count, predict, train_head)

IMAGES = torch.rand(3, 64, 64, 3)


@pytest.mark.parametrize("task, shape", [("figures", (3, 14, 2)), ("eyes", (3, 2))])
@pytest.mark.parametrize("kind", KINDS)
def test_outputs(task, shape, kind):
    model = HeadModel(HeadsConfig(task=task), kind).eval()
    out = model(IMAGES)
    assert out[0].shape == shape
    if kind == "l1":
        assert len(out) == 1  # no uncertainty signal at all
    else:
        assert out[1].shape == shape and (out[1] > 0).all()


def test_same_backbone_for_every_head():
    states = []
    for kind in KINDS:
        torch.manual_seed(0)
        states.append(HeadModel(HeadsConfig(task="eyes"), kind).backbone.state_dict())
    assert all(torch.equal(states[0][k], s[k]) for s in states[1:] for k in states[0])


def test_soft_argmax_finds_a_peak_and_its_spread():
    head = SoftArgmaxHead(1, 1, 1, 16)
    with torch.no_grad():
        for p in head.parameters():
            p.zero_()
    logits = torch.full((1, 1, 16, 16), -30.0)
    logits[0, 0, 12, 3] = 30.0  # row 12, column 3
    head.conv = torch.nn.Identity()
    mu, spread = head(torch.zeros(1, 1, 8, 8), logits[:, :, :, :])  # conv(cat(fine, up)) -> Identity on 2 channels
    assert mu.shape == (1, 2, 2)
    assert mu[0, 0].tolist() == pytest.approx([3.5 / 16 - 0.5, 12.5 / 16 - 0.5], abs=1e-4)
    assert spread[0, 0].max() < 1e-3


def test_binned_gaze_expectation_and_bins():
    config = HeadsConfig(task="eyes", gaze_bins=5, gaze_limit=1.0)
    head = BinnedGazeHead(4, 5, 1.0)
    with torch.no_grad():
        head.fc.weight.zero_()
        head.fc.bias.copy_(torch.tensor([0, 0, 0, 50.0, 0, 50.0, 0, 0, 0, 0]))  # yaw bin 3 (0.5), pitch bin 0 (-1)
    logits, mean, spread = head(torch.zeros(1, 4))
    assert mean[0].tolist() == pytest.approx([0.5, -1.0], abs=1e-4) and spread.max() < 1e-3
    loss = HeadLoss(config, "heatmap")({"mu": mean, "logits": logits, "signal": spread}, torch.tensor([[0.5, -1.0]]), torch.ones(1, 2))
    assert loss.item() < 1e-3  # the right bins, the right expectation


@pytest.mark.parametrize("kind", KINDS)
def test_each_head_learns_gaze(kind):
    images, gaze = eye_batch(11, 0, 48)
    config = HeadsConfig(task="eyes", steps=24, batch_size=16, lr=3e-3)
    losses = []
    model, loss = train_head(config, kind, images, gaze, np.ones_like(gaze), on_step=lambda s, v: losses.append(v))
    assert np.mean(losses[-6:]) < np.mean(losses[:6])
    mu, signal = predict(model, images[:10])
    assert mu.shape == (10, 2) and (signal is None) == (kind == "l1")
    assert (loss.rle is not None) == (kind == "rle")
    assert parameter_count(model) < 1_000_000


def test_bad_configuration_names_it():
    with pytest.raises(ValueError, match="task"):
        HeadsConfig(task="hands")
    with pytest.raises(ValueError, match="kind"):
        HeadModel(HeadsConfig(), "mse")
    with pytest.raises(ValueError, match="one length"):
        train_head(HeadsConfig(task="eyes", steps=1), "l1", np.zeros((4, 64, 64, 3), np.uint8), np.zeros((3, 2)), np.zeros((3, 2)))


def test_coverage_radii_match_the_losss_bisection():
    from sensorium.models.rle.loss import RLELoss
    from sensorium.models.training.rle_heads import box_mass, coverage_radii

    torch.manual_seed(0)
    loss = RLELoss(dim=2)
    with torch.no_grad():
        for m in loss.flow.marginals:
            m.log_d.fill_(-0.2)  # heavier tails than the base, so the radii are not the Gaussian's
    table = box_mass(loss)  # what coverage_radii reads: one evaluation of G answers every p and k
    fast = table.radii((0.5, 0.9545))
    assert fast == pytest.approx([loss.coverage_radius(0.5), loss.coverage_radius(0.9545)], abs=0.03)
    assert table.coverage(1.0) == pytest.approx(loss.predicted_coverage(1.0), abs=1e-4) and table.coverage(0.0) == 0.0
    with pytest.raises(ValueError, match="probability"):
        coverage_radii(loss, (1.0,))

