"""A stack of linear layers with an activation between them: DETR's box head, and any head
that maps a feature to a few numbers. Its parameters are ``layers.{i}.weight/bias``, the
layout of the public DETR checkpoints' ``bbox_embed``."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class Mlp(nn.Module):
    """(..., in_dim) → (..., out_dim) through ``num_layers`` linear layers, ``activation``
    (default ReLU) after each but the last."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, num_layers: int,
                 activation: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers: expected at least 1, got {num_layers}")
        dims = [in_dim] + [hidden] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:] + [out_dim]))
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return x
