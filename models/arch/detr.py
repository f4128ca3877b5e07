"""DETR (Carion et al., 2020) with an optional spatial-pyramid-pooling block on the backbone's
last feature map, built from the project's shared transformer blocks.

The graph maps a normalised image batch and its padding mask to raw outputs (class logits
including the no-object class, boxes as normalised cx, cy, w, h); pre- and post-processing
are separate pure functions (``stages/detect/stage.py``). Parameter names load the public
checkpoint layout through :mod:`sensorium.models.arch.detr_checkpoint`.
"""

from __future__ import annotations

import torch
from torch import nn

from sensorium.models.arch.backbone import ResNetBackbone, SinePositionEmbedding
from sensorium.models.layers.mlp import Mlp
from sensorium.models.layers.spp import SpatialPyramidPooling
from sensorium.models.layers.transformer import Decoder, DecoderLayer, Encoder, EncoderLayer


class DETR(nn.Module):
    """``forward(images (B, 3, H, W) float32, mask (B, H, W) bool True=padding)`` →
    ``(logits (B, Q, K+1), boxes (B, Q, 4) in [0, 1] as cx, cy, w, h)`` of the last decoder layer.

    ``forward_train`` returns a dict with every decoder layer's outputs under ``"aux"``.
    """

    def __init__(
        self,
        backbone: ResNetBackbone,
        encoder: Encoder,
        decoder: Decoder,
        *,
        dim: int,
        num_classes: int,
        num_queries: int = 100,
        spp: SpatialPyramidPooling | None = None,
    ) -> None:
        super().__init__()
        if not decoder.return_intermediate:
            raise ValueError("DETR needs a decoder with return_intermediate=True (auxiliary losses)")
        self.backbone, self.encoder, self.decoder, self.spp = backbone, encoder, decoder, spp
        self.num_classes, self.num_queries = num_classes, num_queries
        self.input_proj = nn.Conv2d(backbone.num_channels, dim, kernel_size=1)
        self.position = SinePositionEmbedding(dim // 2)
        self.query_embed = nn.Embedding(num_queries, dim)
        self.class_embed = nn.Linear(dim, num_classes + 1)
        self.bbox_embed = Mlp(dim, dim, 4, 3)

    def _heads(self, images: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, m = self.project(images, mask)  # (B, dim, h, w), (B, h, w)
        proj = x
        if self.spp is not None:
            x = self.spp(x, m)
        pos = self.position(m).flatten(2).transpose(1, 2)  # (B, h*w, dim)
        src = x.flatten(2).transpose(1, 2)  # (B, h*w, dim)
        m = m.flatten(1)  # (B, h*w)
        memory = self.encoder(src, pos=pos, key_padding_mask=m)
        query_pos = self.query_embed.weight[None].expand(src.shape[0], -1, -1)  # (B, Q, dim)
        hs = self.decoder(torch.zeros_like(query_pos), memory, query_pos=query_pos, pos=pos, memory_key_padding_mask=m)
        return self.class_embed(hs), self.bbox_embed(hs).sigmoid(), proj  # (L, B, Q, K+1), (L, B, Q, 4), (B, dim, h, w)

    def project(self, images: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone and input projection: (features (B, dim, h, w), mask (B, h, w)). Training
        uses it alone to pretrain the backbone on a dense task (``detr_train``)."""
        feats, m = self.backbone(images, mask)  # (B, C, h, w), (B, h, w)
        return self.input_proj(feats), m

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, boxes, _ = self._heads(images, mask)
        return logits[-1], boxes[-1]

    def forward_train(self, images: torch.Tensor, mask: torch.Tensor) -> dict:
        """Every decoder layer's outputs (``aux``) and the projected backbone map (``features``)."""
        logits, boxes, proj = self._heads(images, mask)
        return {"logits": logits[-1], "boxes": boxes[-1], "features": proj,
                "aux": [{"logits": a, "boxes": b} for a, b in zip(logits[:-1], boxes[:-1])]}


def build_detr(
    *,
    num_classes: int = 91,
    backbone: str = "resnet50",
    dim: int = 256,
    heads: int = 8,
    enc_layers: int = 6,
    dec_layers: int = 6,
    ffn_dim: int = 2048,
    dropout: float = 0.1,
    num_queries: int = 100,
    spp: bool = True,
) -> DETR:
    """DETR as in the paper (post-norm, ReLU); the defaults are ``facebook/detr-resnet-50``'s."""

    def enc() -> EncoderLayer:
        return EncoderLayer(dim, heads, ffn_dim / dim, dropout, norm_first=False, activation=nn.ReLU)

    def dec() -> DecoderLayer:
        return DecoderLayer(dim, heads, ffn_dim / dim, dropout, norm_first=False, activation=nn.ReLU)

    return DETR(
        ResNetBackbone(backbone),
        Encoder(enc, enc_layers),
        Decoder(dec, dec_layers, nn.LayerNorm(dim), return_intermediate=True),
        dim=dim, num_classes=num_classes, num_queries=num_queries,
        spp=SpatialPyramidPooling(dim) if spp else None,
    )
