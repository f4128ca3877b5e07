"""A small Vision Transformer image classifier (DeiT-Ti shape), registered as ``vit-tiny``.

The graph maps a normalised (N, 3, H, W) float32 image to raw (N, num_classes) logits; resizing,
normalisation and softmax/top-k live outside it. The encoder is the project's shared pre-norm
:class:`~sensorium.models.layers.transformer.Encoder` of
:class:`~sensorium.models.layers.transformer.EncoderLayer`, so this file only adds what is
ViT-specific: patch embedding, the class token, learned position embeddings and the head.
"""

from __future__ import annotations

import torch
from torch import nn

from sensorium.models.hub.registry import ModelMeta, ModelSpec, image_inputs, register_model
from sensorium.models.layers.transformer import Encoder, EncoderLayer


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens with one strided convolution."""

    def __init__(self, patch_size: int, in_chans: int, dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)  # (B, dim, H/p, W/p)
        return x.flatten(2).transpose(1, 2)  # (B, T, dim), T = (H/p) * (W/p)


class VisionTransformer(nn.Module):
    """ViT classifier: patch tokens + [CLS] + learned positions -> encoder -> head on [CLS].

    Collaborators come in built: ``patch_embed`` maps (B, 3, H, W) -> (B, num_patches, dim),
    ``encoder`` maps (B, T, dim) -> (B, T, dim) and ends with its final norm (pre-norm stacks
    need one). The learned position embedding fixes the input size at ``num_patches`` patches
    (no interpolation inside the graph), so only the batch axis of the exported graph is dynamic.
    """

    def __init__(self, patch_embed: nn.Module, encoder: nn.Module, num_patches: int, dim: int, num_classes: int) -> None:
        super().__init__()
        self.patch_embed = patch_embed
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, dim))
        self.encoder = encoder
        self.head = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()
        self.num_patches = num_patches
        self._init_weights()

    def _init_weights(self) -> None:
        # DeiT's init: small truncated-normal embeddings; the shared layers initialise themselves.
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        if isinstance(self.head, nn.Linear):
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised float -> (B, 1 + num_patches, dim) encoded tokens."""
        x = self.patch_embed(images)  # (B, T, dim)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, dim)
        x = torch.cat((cls, x), dim=1) + self.pos_embed  # (B, 1 + T, dim)
        return self.encoder(x)  # (B, 1 + T, dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised float32 -> (B, num_classes) raw logits."""
        return self.head(self.forward_features(images)[:, 0])  # (B, num_classes)


def vit_tiny(
    *,
    img_size: int = 224,
    patch_size: int = 16,
    dim: int = 192,
    depth: int = 12,
    heads: int = 3,
    mlp_ratio: float = 4.0,
    num_classes: int = 1000,
) -> VisionTransformer:
    """A ViT with pre-norm GELU encoder layers; the defaults are DeiT-Ti's shape (5.7 M
    parameters, 1.07 GMAC per 224x224 image: ~20 ms at batch 1 on 2 cores)."""
    if img_size % patch_size:
        raise ValueError(f"img_size must be a multiple of patch_size, got {img_size} and {patch_size}")
    layer = lambda: EncoderLayer(dim, heads, mlp_ratio, norm_first=True, activation=nn.GELU)  # noqa: E731
    return VisionTransformer(
        PatchEmbed(patch_size, 3, dim),
        Encoder(layer, num_layers=depth, final_norm=nn.LayerNorm(dim)),
        num_patches=(img_size // patch_size) ** 2,
        dim=dim,
        num_classes=num_classes,
    )


VIT_TINY = register_model(
    ModelSpec(
        name="vit-tiny",
        build=vit_tiny,
        example_inputs=image_inputs(224, 224),
        input_names=("images",),
        output_names=("logits",),
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        meta=ModelMeta(input_size=(224, 224)),
    )
)
