"""The shared Mlp: shapes, the activation between (not after) layers, the checkpoint layout."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sensorium.models.layers.mlp import Mlp


def test_maps_the_last_axis_through_relu_between_layers():
    torch.manual_seed(0)
    m = Mlp(8, 16, 4, 3)
    x = torch.randn(2, 5, 8)
    a, b, c = m.layers
    expected = c(torch.relu(b(torch.relu(a(x)))))
    torch.testing.assert_close(m(x), expected)
    assert m(x).shape == (2, 5, 4)
    assert (m(x) < 0).any()  # no activation after the last layer


def test_parameters_keep_the_detr_bbox_embed_layout():
    keys = set(Mlp(256, 256, 4, 3).state_dict())
    assert keys == {f"layers.{i}.{p}" for i in range(3) for p in ("weight", "bias")}


def test_one_layer_is_linear_and_zero_is_refused():
    assert isinstance(Mlp(3, 99, 2, 1).layers[0], nn.Linear)
    with pytest.raises(ValueError, match="num_layers: expected at least 1, got 0"):
        Mlp(3, 4, 2, 0)
