"""Spatial pyramid pooling on a feature map, entering as a zero-initialised residual.

Max-pooling the last feature map into 1×1, 2×2 and 4×4 bins gives every position a view of
the whole image at several granularities (context DETR's encoder otherwise has to learn from
attention alone, which is slow to train on small data). The pooled maps are broadcast back to
the map's size, concatenated with the map itself and fused by a 1×1 convolution whose weights
start at zero, so ``x + spp(x) == x`` at initialisation: a checkpoint trained without SPP
gives the same outputs with SPP switched on until it is fine-tuned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpatialPyramidPooling(nn.Module):
    """``forward(x, mask) -> x + fuse([x, up(maxpool_b(x)) for b in bins])``.

    x: (B, C, H, W) features; mask: (B, H, W) bool, True at padding (ignored by the pooling).
    """

    def __init__(self, channels: int, bins: tuple[int, ...] = (1, 2, 4)) -> None:
        super().__init__()
        if not bins or min(bins) < 1:
            raise ValueError(f"bins: expected positive sizes, got {bins}")
        self.bins = tuple(bins)
        self.fuse = nn.Conv2d(channels * (len(self.bins) + 1), channels, kernel_size=1)
        nn.init.zeros_(self.fuse.weight)
        nn.init.zeros_(self.fuse.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        src = x if mask is None else x.masked_fill(mask[:, None], float("-inf"))
        parts = [x]
        for b in self.bins:
            pooled = F.adaptive_max_pool2d(src, b)  # (B, C, b, b)
            pooled = torch.nan_to_num(pooled, neginf=0.0)  # a bin that is all padding
            parts.append(F.interpolate(pooled, size=(h, w), mode="nearest"))
        return x + self.fuse(torch.cat(parts, dim=1))
