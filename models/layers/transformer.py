"""The project's one set of transformer blocks: encoder/decoder layers and their stacks.

Batch-first throughout: tokens are (B, T, dim). Positional embeddings are added to queries and
keys only, never to values (DETR's ``with_pos_embed``): ``q = k = x + pos, v = x``. Both
normalisation orders are here: ``norm_first=True`` (pre-norm, ViT) and ``norm_first=False``
(post-norm, DETR with ReLU and dropout 0.1).

Submodules carry torch's ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` names,
which are also the original DETR checkpoint's, except that cross-attention is ``cross_attn``
and every attention has separate q/k/v projections (:mod:`sensorium.models.layers.attention`):

=========================== ================================== ===================================
here                        original DETR / torch layers       Hugging Face ``DetrModel``
=========================== ================================== ===================================
``self_attn.{q,k,v}_proj``  ``self_attn.in_proj_*`` (split by  ``self_attn.{q,k,v}_proj``
                            :func:`~.attention.unpack_in_proj`)
``self_attn.out_proj``      ``self_attn.out_proj``             ``self_attn.out_proj``
``cross_attn.*``            ``multihead_attn.*`` (split too)   ``encoder_attn.*``
``linear1``, ``linear2``    ``linear1``, ``linear2``           ``fc1``, ``fc2``
``norm1``                   ``norm1``                          ``self_attn_layer_norm``
``norm2`` (encoder)         ``norm2``                          ``final_layer_norm``
``norm2`` (decoder)         ``norm2``                          ``encoder_attn_layer_norm``
``norm3`` (decoder)         ``norm3``                          ``final_layer_norm``
``Encoder.norm``            ``encoder.norm`` (pre-norm only)   (none: post-norm)
``Decoder.norm``            ``decoder.norm``                   ``decoder.layernorm``
=========================== ================================== ===================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from sensorium.models.layers.attention import MultiHeadAttention, Rotary

RopeArg = Rotary | tuple[Rotary, Rotary] | None


def _with_pos(x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
    return x if pos is None else x + pos


class EncoderLayer(nn.Module):
    """Self-attention then MLP, each with a residual: (B, T, dim) -> (B, T, dim).

    ``forward(x, *, pos=None, key_padding_mask=None, attn_mask=None, rope=None)``: ``pos``
    (B or 1, T, dim) is added to queries and keys only; masks as in
    :func:`~sensorium.models.layers.attention.attention` (True = blocked). ``dropout`` applies to the
    attention weights, the MLP's hidden layer and both residual branches, as in DETR and torch.
    ``mlp_ratio`` sets the MLP width: DETR's 2048 over 256 channels is ``mlp_ratio=8``.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        *,
        norm_first: bool = True,
        activation: Callable[[], nn.Module] = nn.GELU,
        norm_layer: Callable[[int], nn.Module] = nn.LayerNorm,
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        if hidden <= 0:
            raise ValueError(f"mlp_ratio must give a positive hidden width, got dim={dim}, mlp_ratio={mlp_ratio}")
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(dim, heads, dropout=dropout)
        self.linear1 = nn.Linear(dim, hidden)
        self.activation = activation()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm1 = norm_layer(dim)
        self.norm2 = norm_layer(dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _attend(self, h, pos, key_padding_mask, attn_mask, rope) -> torch.Tensor:
        qk = _with_pos(h, pos)
        out = self.self_attn(qk, qk, h, key_padding_mask=key_padding_mask, attn_mask=attn_mask, rope=rope)
        return self.dropout1(out)

    def _mlp(self, h: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(h)))))

    def forward(
        self,
        x: torch.Tensor,
        *,
        pos: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        rope: RopeArg = None,
    ) -> torch.Tensor:
        if self.norm_first:
            x = x + self._attend(self.norm1(x), pos, key_padding_mask, attn_mask, rope)
            return x + self._mlp(self.norm2(x))
        x = self.norm1(x + self._attend(x, pos, key_padding_mask, attn_mask, rope))
        return self.norm2(x + self._mlp(x))


class DecoderLayer(nn.Module):
    """Self-attention over the queries, cross-attention to the memory, then MLP: (B, Q, dim) -> (B, Q, dim).

    ``forward(tgt (B, Q, dim), memory (B, S, dim), *, query_pos, pos, ...)``: self-attention
    uses ``q = k = tgt + query_pos, v = tgt``; cross-attention ``q = tgt + query_pos,
    k = memory + pos, v = memory``. ``rope`` rotates the self-attention, ``cross_rope`` is a
    (query, memory) pair of tables for the cross-attention.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        *,
        norm_first: bool = True,
        activation: Callable[[], nn.Module] = nn.GELU,
        norm_layer: Callable[[int], nn.Module] = nn.LayerNorm,
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        if hidden <= 0:
            raise ValueError(f"mlp_ratio must give a positive hidden width, got dim={dim}, mlp_ratio={mlp_ratio}")
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(dim, heads, dropout=dropout)
        self.cross_attn = MultiHeadAttention(dim, heads, dropout=dropout)
        self.linear1 = nn.Linear(dim, hidden)
        self.activation = activation()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm1 = norm_layer(dim)
        self.norm2 = norm_layer(dim)
        self.norm3 = norm_layer(dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        *,
        query_pos: torch.Tensor | None = None,
        pos: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        memory_key_padding_mask: torch.Tensor | None = None,
        rope: RopeArg = None,
        cross_rope: tuple[Rotary, Rotary] | None = None,
    ) -> torch.Tensor:
        def self_block(h: torch.Tensor) -> torch.Tensor:
            qk = _with_pos(h, query_pos)
            out = self.self_attn(qk, qk, h, key_padding_mask=tgt_key_padding_mask, attn_mask=tgt_mask, rope=rope)
            return self.dropout1(out)

        def cross_block(h: torch.Tensor) -> torch.Tensor:
            out = self.cross_attn(
                _with_pos(h, query_pos), _with_pos(memory, pos), memory,
                key_padding_mask=memory_key_padding_mask, attn_mask=memory_mask, rope=cross_rope,
            )
            return self.dropout2(out)

        def mlp(h: torch.Tensor) -> torch.Tensor:
            return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(h)))))

        x = tgt
        if self.norm_first:
            x = x + self_block(self.norm1(x))
            x = x + cross_block(self.norm2(x))
            return x + mlp(self.norm3(x))
        x = self.norm1(x + self_block(x))
        x = self.norm2(x + cross_block(x))
        return self.norm3(x + mlp(x))


def _build_layers(
    layers: Sequence[nn.Module] | Callable[[], nn.Module], num_layers: int | None
) -> nn.ModuleList:
    """A ModuleList from built layers, or from ``num_layers`` calls of a factory (fresh init each)."""
    if isinstance(layers, nn.Module):
        raise ValueError(
            "expected a sequence of layers or a zero-argument factory, got a single "
            f"{type(layers).__name__}: wrap it as `lambda: {type(layers).__name__}(...)`"
        )
    if isinstance(layers, Sequence):
        if num_layers is not None and num_layers != len(layers):
            raise ValueError(f"num_layers={num_layers} but {len(layers)} layers were given")
        built = list(layers)
    elif callable(layers):
        if num_layers is None or num_layers < 1:
            raise ValueError(f"a layer factory needs num_layers >= 1, got {num_layers}")
        built = [layers() for _ in range(num_layers)]
    else:
        raise ValueError(f"expected a sequence of layers or a layer factory, got {type(layers).__name__}")
    if not built:
        raise ValueError("expected at least one layer")
    return nn.ModuleList(built)


class Encoder(nn.Module):
    """A stack of encoder layers and an optional final norm (pre-norm stacks need one).

    ``Encoder(layers or factory, num_layers=None, final_norm=None)``; ``forward`` takes the
    layer's keyword arguments and passes them to every layer: (B, T, dim) -> (B, T, dim).
    """

    def __init__(
        self,
        layers: Sequence[nn.Module] | Callable[[], nn.Module],
        num_layers: int | None = None,
        final_norm: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.layers = _build_layers(layers, num_layers)
        self.norm = final_norm

    def forward(
        self,
        x: torch.Tensor,
        *,
        pos: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        rope: RopeArg = None,
    ) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, pos=pos, key_padding_mask=key_padding_mask, attn_mask=attn_mask, rope=rope)
        return x if self.norm is None else self.norm(x)


class Decoder(nn.Module):
    """A stack of decoder layers; optionally every layer's output, for DETR's auxiliary losses.

    ``forward(tgt (B, Q, dim), memory (B, S, dim), *, <DecoderLayer's keywords>)`` returns (B, Q, dim), or
    with ``return_intermediate`` (num_layers, B, Q, dim) where entry i is layer i's output
    passed through the shared final norm (as DETR does), so entry -1 is the plain output.
    """

    def __init__(
        self,
        layers: Sequence[nn.Module] | Callable[[], nn.Module],
        num_layers: int | None = None,
        final_norm: nn.Module | None = None,
        *,
        return_intermediate: bool = False,
    ) -> None:
        super().__init__()
        self.layers = _build_layers(layers, num_layers)
        self.norm = final_norm
        self.return_intermediate = return_intermediate

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        *,
        query_pos: torch.Tensor | None = None,
        pos: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        memory_key_padding_mask: torch.Tensor | None = None,
        rope: RopeArg = None,
        cross_rope: tuple[Rotary, Rotary] | None = None,
    ) -> torch.Tensor:
        x = tgt
        intermediate = []
        for layer in self.layers:
            x = layer(
                x, memory, query_pos=query_pos, pos=pos, tgt_mask=tgt_mask,
                tgt_key_padding_mask=tgt_key_padding_mask, memory_mask=memory_mask,
                memory_key_padding_mask=memory_key_padding_mask, rope=rope, cross_rope=cross_rope,
            )
            if self.return_intermediate:
                intermediate.append(x if self.norm is None else self.norm(x))
        if self.return_intermediate:
            return torch.stack(intermediate)  # (num_layers, B, Q, dim)
        return x if self.norm is None else self.norm(x)
