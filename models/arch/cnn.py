"""A small ResNet-style image classifier, registered as ``cnn-small``.

The graph maps a normalised (N, 3, H, W) float32 image to raw (N, num_classes) logits. Global
average pooling makes it size-agnostic, so batch, height and width are all dynamic in the
exported graph (any H, W >= 32; the meta's input size is the size it is benchmarked at).
BatchNorm stays in the module: in eval mode onnxruntime folds it into the convolutions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from sensorium.models.hub.registry import ModelMeta, ModelSpec, image_inputs, register_model

NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[[], nn.Module]


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, norm_layer: NormLayer) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        norm_layer(cout),
    )


class BasicBlock(nn.Module):
    """Two 3x3 conv-norm pairs with a residual; a strided 1x1 projection when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int, *, norm_layer: NormLayer, act_layer: ActLayer) -> None:
        super().__init__()
        self.conv1 = _conv_bn(cin, cout, 3, stride, norm_layer)
        self.conv2 = _conv_bn(cout, cout, 3, 1, norm_layer)
        self.shortcut = _conv_bn(cin, cout, 1, stride, norm_layer) if stride != 1 or cin != cout else nn.Identity()
        self.act1 = act_layer()
        self.act2 = act_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.conv1(x))  # (B, cout, H/s, W/s)
        return self.act2(self.conv2(y) + self.shortcut(x))


class ResNet(nn.Module):
    """stem -> stages -> global average pool -> linear head.

    ``stem`` maps (B, 3, H, W) -> (B, C0, H/4, W/4); ``stages`` are applied in order and the last
    one outputs ``width`` channels; ``num_classes`` sizes the head.
    """

    def __init__(self, stem: nn.Module, stages: Sequence[nn.Module], width: int, num_classes: int) -> None:
        super().__init__()
        self.stem = stem
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised float32 -> (B, num_classes) raw logits."""
        x = self.stages(self.stem(images))  # (B, width, H/32, W/32)
        return self.head(x.mean(dim=(2, 3)))  # (B, num_classes)


def cnn_small(
    *,
    widths: Sequence[int] = (32, 64, 128, 256),
    depths: Sequence[int] = (2, 2, 2, 2),
    num_classes: int = 1000,
    norm_layer: NormLayer = nn.BatchNorm2d,
    act_layer: ActLayer = nn.ReLU,
) -> ResNet:
    """ResNet-18's layout at half width: 3.1 M parameters, 0.48 GMAC per 224x224 image."""
    if len(widths) != len(depths) or not widths:
        raise ValueError(f"widths and depths must be non-empty and of equal length, got {widths} and {depths}")
    stem = nn.Sequential(
        _conv_bn(3, widths[0], 7, 2, norm_layer),  # (B, w0, H/2, W/2)
        act_layer(),
        nn.MaxPool2d(3, stride=2, padding=1),  # (B, w0, H/4, W/4)
    )
    stages, cin = [], widths[0]
    for i, (width, depth) in enumerate(zip(widths, depths)):
        blocks = []
        for j in range(depth):
            stride = 2 if i > 0 and j == 0 else 1
            blocks.append(BasicBlock(cin, width, stride, norm_layer=norm_layer, act_layer=act_layer))
            cin = width
        stages.append(nn.Sequential(*blocks))
    return ResNet(stem, stages, widths[-1], num_classes)


CNN_SMALL = register_model(
    ModelSpec(
        name="cnn-small",
        build=cnn_small,
        example_inputs=image_inputs(224, 224),
        input_names=("images",),
        output_names=("logits",),
        dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}},
        meta=ModelMeta(input_size=(224, 224)),
    )
)
