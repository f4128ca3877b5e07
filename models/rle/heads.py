"""RLE regression heads: a feature vector -> (mu, sigma) per coordinate, nothing else.

The heads are the part that ships: a linear map for mu and one for sigma, as in the paper's
regression model (global-pooled backbone feature -> fc). The flow that shapes the residual
density is only in the training loss (loss.py), so an exported head holds two Linear layers and a
sigmoid, and inference costs what plain regression costs.

sigma = sigmoid(logit) + SIGMA_FLOOR: positive and below ~1, as the paper's (coordinates are
normalised to the crop, so an error of a whole crop is the most a sigma may claim); the floor keeps
log sigma finite where a logit saturates.
"""

from __future__ import annotations

import math

import torch
from torch import nn

SIGMA_FLOOR = 1e-6


class RLEHead(nn.Module):
    """(B, in_features) -> (mu (B, *shape), sigma (B, *shape)), float32, same units as the targets."""

    def __init__(self, in_features: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        if in_features < 1 or not shape or min(shape) < 1:
            raise ValueError(f"RLEHead: expected in_features >= 1 and a non-empty positive shape, "
                             f"got {in_features}, {shape!r}")
        self.in_features, self.shape = in_features, tuple(shape)
        size = math.prod(self.shape)
        self.mu = nn.Linear(in_features, size)
        self.sigma = nn.Linear(in_features, size)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if features.dim() != 2 or features.shape[1] != self.in_features:
            raise ValueError(f"{type(self).__name__}: expected features of shape (B, {self.in_features}), "
                             f"got {tuple(features.shape)}")
        batch = features.shape[0]
        mu = self.mu(features).reshape(batch, *self.shape)
        sigma = torch.sigmoid(self.sigma(features)).reshape(batch, *self.shape) + SIGMA_FLOOR
        return mu, sigma


class KeypointRLEHead(RLEHead):
    """(B, in_features) -> mu (B, K, 2), sigma (B, K, 2): (x, y) of K keypoints in the crop's
    normalised coordinates ([-0.5, 0.5] across the crop, as the paper) and their scales."""

    def __init__(self, in_features: int, num_keypoints: int) -> None:
        super().__init__(in_features, (num_keypoints, 2))
        self.num_keypoints = num_keypoints


class GazeRLEHead(RLEHead):
    """(B, in_features) -> mu (B, 2), sigma (B, 2): gaze angles in radians and their scales, in the
    order the caller trains them (sensorium's heads use (yaw, pitch), as ``Gaze.yaw_pitch``)."""

    def __init__(self, in_features: int) -> None:
        super().__init__(in_features, (2,))
