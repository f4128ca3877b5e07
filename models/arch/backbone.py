"""CNN backbones for detection: a torchvision ResNet cut after its last stage, frozen BN.

The backbone returns the stride-32 feature map (or, with ``return_layer=3``, the stride-16 one,
which keeps small objects several cells wide) and the padding mask resized to it, which is
what DETR's encoder consumes. Parameter names follow torchvision's ResNet (``conv1``, ``bn1``,
``layer1.0.conv1`` ...), which are also timm's and the public DETR checkpoint's backbone names.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
from torchvision.ops.misc import FrozenBatchNorm2d

#: name → (block, layers per stage); "resnet-lite" is the reduced backbone trained here
RESNETS = {
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet-lite": (BasicBlock, (1, 1, 1, 1)),
}


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, channels // 4), channels)


#: backbone normalisations: frozen statistics (pretrained checkpoints), BatchNorm, or GroupNorm,
#: which normalises each image on its own: a backbone trained from scratch on images whose
#: global colour varies wildly otherwise spends its features on that colour, not on shapes
NORMS = {"frozen_bn": FrozenBatchNorm2d, "bn": nn.BatchNorm2d, "gn": _group_norm}


class ResNetBackbone(nn.Module):
    """``forward(images, mask) -> (features (B, C, H/s, W/s), mask (B, H/s, W/s))``, s = 32
    (``return_layer=4``, default) or 16 (``return_layer=3``).

    images: (B, 3, H, W) float32, normalised with ImageNet mean/std; mask: (B, H, W) bool,
    True at padding. BatchNorm is frozen (DETR trains with small batches; frozen statistics
    also make the exported graph a pure function of its input).
    """

    def __init__(self, name: str = "resnet50", *, frozen_bn: bool = True, return_layer: int = 4, norm: str | None = None) -> None:
        super().__init__()
        if name not in RESNETS:
            raise ValueError(f"unknown backbone {name!r}; known: {', '.join(RESNETS)}")
        if return_layer not in (3, 4):
            raise ValueError(f"return_layer: expected 3 (stride 16) or 4 (stride 32), got {return_layer!r}")
        norm = norm or ("frozen_bn" if frozen_bn else "bn")
        if norm not in NORMS:
            raise ValueError(f"norm: expected one of {', '.join(NORMS)}, got {norm!r}")
        block, layers = RESNETS[name]
        body = ResNet(block, list(layers), norm_layer=NORMS[norm])
        self.conv1, self.bn1, self.relu, self.maxpool = body.conv1, body.bn1, body.relu, body.maxpool
        self.layer1, self.layer2, self.layer3 = body.layer1, body.layer2, body.layer3
        if return_layer == 4:  # stride 16 drops layer4 entirely: no unused parameters in the state dict
            self.layer4 = body.layer4
        self.return_layer = return_layer
        self.num_channels = (512 if return_layer == 4 else 256) * block.expansion

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer3(self.layer2(self.layer1(x)))  # (B, C, H/16, W/16)
        if self.return_layer == 4:
            x = self.layer4(x)  # (B, C, H/32, W/32)
        m = F.interpolate(mask[:, None].float(), size=x.shape[-2:], mode="nearest")[:, 0] > 0.5
        return x, m


class SinePositionEmbedding(nn.Module):
    """DETR's fixed 2-D sine embedding over the non-padded area (normalised to [0, 2π]).

    ``forward(mask (B, H, W) bool) -> (B, 2 * num_feats, H, W)``: first half encodes y, second x.
    """

    def __init__(self, num_feats: int = 128, temperature: float = 10000.0, scale: float = 2 * torch.pi) -> None:
        super().__init__()
        self.num_feats, self.temperature, self.scale = num_feats, temperature, scale

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        valid = (~mask).float()
        y = valid.cumsum(1)
        x = valid.cumsum(2)
        eps = 1e-6
        y = y / (y[:, -1:, :] + eps) * self.scale
        x = x / (x[:, :, -1:] + eps) * self.scale
        dim_t = torch.arange(self.num_feats, dtype=torch.float32, device=mask.device)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.num_feats)
        px, py = x[..., None] / dim_t, y[..., None] / dim_t  # (B, H, W, F)
        px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), dim=4).flatten(3)
        py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), dim=4).flatten(3)
        return torch.cat((py, px), dim=3).permute(0, 3, 1, 2)
