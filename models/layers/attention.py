"""Multi-head attention over torch's fused kernels, with rotary position embeddings.

:class:`MultiHeadAttention` keeps four separate projections (``q_proj``, ``k_proj``,
``v_proj``, ``out_proj``), the layout of Hugging Face's DETR checkpoints, so those map 1:1;
:func:`unpack_in_proj` and :meth:`MultiHeadAttention.from_torch` convert the packed
``in_proj_weight`` of ``nn.MultiheadAttention`` (and of the original DETR checkpoints).

The product itself goes through :func:`attention`, which calls
``F.scaled_dot_product_attention`` (torch picks its flash / memory-efficient kernels, which
never hold the (T, S) score matrix) or, on CUDA, the Triton kernel in
:mod:`sensorium.models.layers.triton_attention`. ``SENSORIUM_ATTENTION=auto|sdpa|triton`` (or
:func:`set_attention_backend`) chooses: ``auto`` runs Triton on CUDA inputs it takes (no
``attn_mask``, no dropout, no gradients; RoPE is applied before, so it does not matter) and
SDPA otherwise; ``triton`` raises where the kernel cannot run. Tracing (``torch.onnx.export``,
``torch.compile``) always gets SDPA, so exported graphs stay portable.

Masks follow ``nn.MultiheadAttention``: ``True`` means *blocked* in both ``key_padding_mask``
and a boolean ``attn_mask``; a float ``attn_mask`` is added to the scores. A query whose keys
are all blocked has no softmax; its output is defined as zeros (and so are its gradients),
where plain softmax would give NaN.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from types import ModuleType
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

BACKENDS = ("auto", "sdpa", "triton")
ENV_BACKEND = "SENSORIUM_ATTENTION"
_backend_override: str | None = None


def set_attention_backend(name: str | None) -> None:
    """Force ``"sdpa"`` or ``"triton"`` (or ``"auto"``) process-wide; ``None`` defers to the env var."""
    global _backend_override
    if name is not None and name not in BACKENDS:
        raise ValueError(f"attention backend must be one of {BACKENDS}, got {name!r}")
    _backend_override = name


def attention_backend() -> str:
    """The backend in force: the override, else ``$SENSORIUM_ATTENTION``, else ``"auto"``."""
    name = _backend_override or os.environ.get(ENV_BACKEND, "").strip().lower() or "auto"
    if name not in BACKENDS:
        raise ValueError(f"{ENV_BACKEND} must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name


# --- rotary position embeddings ---------------------------------------------------------------


class Rotary(NamedTuple):
    """Per-token rotation angles as cos and sin, each (T, head_dim // 2) or (B, T, head_dim // 2)."""

    cos: torch.Tensor
    sin: torch.Tensor


def apply_rotary(x: torch.Tensor, rope: Rotary) -> torch.Tensor:
    """Rotate (B, H, T, head_dim) queries or keys: pair ``(x[2i], x[2i+1])`` turns by angle ``i``.

    Interleaved pairs (RoFormer / GPT-J / EVA convention). Computed in at least float32 and cast
    back, so fp16 inputs do not lose the angle precision.
    """
    cos, sin = rope
    if cos.shape[-1] * 2 != x.shape[-1] or cos.shape[-2] != x.shape[-2]:
        raise ValueError(
            f"rotary tables must be (..., T={x.shape[-2]}, {x.shape[-1] // 2}), got {tuple(cos.shape)}"
        )
    if cos.dim() == 3:  # (B, T, D/2) -> (B, 1, T, D/2): same angles for every head
        cos, sin = cos[:, None], sin[:, None]
    dtype = torch.promote_types(x.dtype, torch.float32)
    x0, x1 = x.to(dtype).unflatten(-1, (-1, 2)).unbind(-1)  # each (B, H, T, D/2)
    cos, sin = cos.to(dtype), sin.to(dtype)
    out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)  # (B, H, T, D/2, 2)
    return out.flatten(-2).to(x.dtype)


class RotaryEmbedding(nn.Module):
    """1-D RoPE: token at position p turns pair i by ``p * base**(-2i / head_dim)``.

    ``forward(positions (T,) or (B, T), int or float) -> Rotary``. Float64 positions give
    float64 tables; anything else gives float32.
    """

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim <= 0 or head_dim % 2:
            raise ValueError(f"rotary head_dim must be a positive even number, got {head_dim}")
        self.head_dim = head_dim
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        # Not persistent: derived from (head_dim, base), so checkpoints need not carry it.
        self.register_buffer("inv_freq", inv_freq.float(), persistent=False)  # (head_dim / 2,)

    def angles(self, positions: torch.Tensor) -> torch.Tensor:
        """(..., T) positions -> (..., T, head_dim / 2) angles."""
        dtype = torch.float64 if positions.dtype == torch.float64 else torch.float32
        return positions.to(dtype)[..., None] * self.inv_freq.to(dtype)

    def forward(self, positions: torch.Tensor) -> Rotary:
        if positions.dim() not in (1, 2):
            raise ValueError(f"expected positions (T,) or (B, T), got {tuple(positions.shape)}")
        theta = self.angles(positions)
        return Rotary(theta.cos(), theta.sin())


class AxialRotaryEmbedding(nn.Module):
    """2-D axial RoPE for image tokens: head dims ``[0, D/2)`` turn with the row, ``[D/2, D)`` with the column.

    Each half is a 1-D RoPE of size D/2, so scores depend only on the (row, column) offset
    between tokens. ``forward(positions (T, 2) or (B, T, 2) as (row, col)) -> Rotary``;
    :meth:`grid` covers a row-major H x W token map (the order of ``x.flatten(2)``).
    """

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim <= 0 or head_dim % 4:
            raise ValueError(f"axial rotary head_dim must be a positive multiple of 4, got {head_dim}")
        self.head_dim = head_dim
        self.axis = RotaryEmbedding(head_dim // 2, base)

    def forward(self, positions: torch.Tensor) -> Rotary:
        if positions.dim() not in (2, 3) or positions.shape[-1] != 2:
            raise ValueError(f"expected (row, col) positions (T, 2) or (B, T, 2), got {tuple(positions.shape)}")
        theta = torch.cat((self.axis.angles(positions[..., 0]), self.axis.angles(positions[..., 1])), dim=-1)
        return Rotary(theta.cos(), theta.sin())  # each (..., T, head_dim / 2)

    def grid(self, height: int, width: int, *, device: torch.device | str | None = None) -> Rotary:
        """Tables for an H x W grid of tokens in row-major order: (H * W, head_dim / 2)."""
        rows = torch.arange(height, device=device).repeat_interleave(width)
        cols = torch.arange(width, device=device).repeat(height)
        return self(torch.stack((rows, cols), dim=-1))  # positions (H * W, 2)


# --- the attention product ---------------------------------------------------------------------


def _check_mask(attn_mask: torch.Tensor, q: torch.Tensor, k: torch.Tensor) -> None:
    target = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    ok = 2 <= attn_mask.dim() <= 4 and all(
        m == 1 or m == t for m, t in zip(reversed(attn_mask.shape), reversed(target))
    )
    if not ok:
        raise ValueError(f"attn_mask must broadcast to (B, H, T, S) = {target}, got {tuple(attn_mask.shape)}")
    if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
        raise ValueError(f"attn_mask must be bool (True = blocked) or float (additive), got {attn_mask.dtype}")


@functools.cache
def _triton_kernels() -> ModuleType | None:
    """The Triton kernel module, imported on first need (triton is heavy and optional)."""
    try:
        from sensorium.models.layers import triton_attention
    except ImportError:
        return None
    return triton_attention


def _triton_for(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, plain: bool, backend: str) -> ModuleType | None:
    """The Triton kernel module when it should run these inputs, else None; ValueError when forced but unusable."""
    if backend == "sdpa" or (backend == "auto" and not (plain and q.is_cuda)):
        return None
    kernels = _triton_kernels()
    if kernels is None:
        reason = "triton is not installed"
    elif not plain:
        reason = "the Triton kernel takes no attn_mask, dropout or gradients"
    else:
        reason = kernels.unsupported(q, k, v)
    if reason is None:
        return kernels
    if backend == "triton":
        raise ValueError(f"{ENV_BACKEND}=triton, but {reason}")
    return None


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    key_padding_mask: torch.Tensor | None = None,
    attn_mask: torch.Tensor | None = None,
    causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """softmax(q k^T * scale + mask) v for q (B, H, T, D), k (B, H, S, D), v (B, H, S, Dv) -> (B, H, T, Dv).

    key_padding_mask: (B, S) bool, True at padding. attn_mask: bool (True = blocked) or float
    (added to the scores), broadcastable to (B, H, T, S). causal: query i sees keys j <= i
    (top-left aligned, like SDPA's ``is_causal``). Rows with every key blocked come out as zeros.
    """
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"expected (B, H, T, D) q, k, v, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    B, S = k.shape[0], k.shape[2]
    if key_padding_mask is not None and (key_padding_mask.dtype != torch.bool or key_padding_mask.shape != (B, S)):
        raise ValueError(
            f"key_padding_mask must be ({B}, {S}) bool, got {tuple(key_padding_mask.shape)} {key_padding_mask.dtype}"
        )
    if attn_mask is not None:
        _check_mask(attn_mask, q, k)

    if not torch.compiler.is_compiling():  # traced graphs (export, compile) record SDPA, a portable op
        needs_grad = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
        plain = attn_mask is None and dropout_p == 0.0 and not needs_grad
        kernels = _triton_for(q, k, v, plain, attention_backend())
        if kernels is not None:
            return kernels.flash_attention(q, k, v, key_padding_mask=key_padding_mask, causal=causal, scale=scale)

    if key_padding_mask is None and attn_mask is None:
        # No row can be fully blocked (causal keeps key 0 for every query): no fix-up needed.
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=causal, scale=scale)

    blocked = None  # bool, True = blocked, broadcastable to (B, H, T, S)
    if key_padding_mask is not None:
        blocked = key_padding_mask[:, None, None, :]  # (B, 1, 1, S)
    if causal:
        future = torch.ones(q.shape[2], S, dtype=torch.bool, device=q.device).triu(1)  # (T, S)
        blocked = future if blocked is None else blocked | future
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        blocked = attn_mask if blocked is None else blocked | attn_mask

    if attn_mask is not None and attn_mask.dtype != torch.bool:
        bias = attn_mask.to(q.dtype)
        if blocked is not None:
            bias = torch.where(blocked, float("-inf"), bias)
        valid = (bias != float("-inf")).any(dim=-1, keepdim=True)  # (b, h, t, 1): row has a key
        mask = torch.where(valid, bias, 0.0)  # a fully blocked row attends uniformly, then is zeroed
    else:
        valid = ~blocked.all(dim=-1, keepdim=True)
        mask = ~blocked | ~valid  # SDPA's convention: True = takes part
    # torch >= 2.5's CPU kernels already return zeros for a fully blocked row, but older CUDA
    # kernels and other runtimes of an exported graph give NaN; un-blocking the row and zeroing
    # its output makes the result (and its gradient) the same everywhere.
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)
    return out.masked_fill(~valid, 0.0)  # (B, H, T, Dv)


# --- the module --------------------------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    """Batch-first multi-head self- or cross-attention with separate q/k/v/out projections.

    ``forward(query (B, T, dim), key (B, S, kdim) = query, value (B, S, vdim) = key) -> (B, T, dim)``.
    ``rope`` rotates the projected queries and keys: one :class:`Rotary` for both (self-attention),
    or a ``(query_rope, key_rope)`` pair when their positions differ (cross-attention).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        *,
        kdim: int | None = None,
        vdim: int | None = None,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if dim <= 0 or heads <= 0 or dim % heads:
            raise ValueError(f"dim must be a positive multiple of heads, got dim={dim}, heads={heads}")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.kdim, self.vdim = kdim or dim, vdim or dim
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.k_proj = nn.Linear(self.kdim, dim, bias=bias)
        self.v_proj = nn.Linear(self.vdim, dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # nn.MultiheadAttention's init: Xavier projections, zero biases.
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            nn.init.xavier_uniform_(proj.weight)
            if proj.bias is not None:
                nn.init.zeros_(proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        *,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        causal: bool = False,
        rope: Rotary | tuple[Rotary, Rotary] | None = None,
    ) -> torch.Tensor:
        key = query if key is None else key
        value = key if value is None else value
        for name, x, width in (("query", query, self.dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if x.dim() != 3 or x.shape[-1] != width:
                raise ValueError(f"expected {name} (B, L, {width}), got {tuple(x.shape)}")
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError(
                f"key and value must be (B, S, ...) with the query's B, got query {tuple(query.shape)}, "
                f"key {tuple(key.shape)}, value {tuple(value.shape)}"
            )
        split = (self.heads, self.head_dim)
        q = self.q_proj(query).unflatten(-1, split).transpose(1, 2)  # (B, heads, T, head_dim)
        k = self.k_proj(key).unflatten(-1, split).transpose(1, 2)  # (B, heads, S, head_dim)
        v = self.v_proj(value).unflatten(-1, split).transpose(1, 2)  # (B, heads, S, head_dim)
        if rope is not None:
            q_rope, k_rope = (rope, rope) if isinstance(rope, Rotary) else rope
            if not (isinstance(q_rope, Rotary) and isinstance(k_rope, Rotary)):
                raise ValueError(f"rope must be a Rotary or a (query, key) pair of them, got {type(rope).__name__}")
            q, k = apply_rotary(q, q_rope), apply_rotary(k, k_rope)
        out = attention(
            q, k, v,
            key_padding_mask=key_padding_mask,
            attn_mask=attn_mask,
            causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, heads, T, head_dim)
        return self.out_proj(out.transpose(1, 2).flatten(2))  # (B, T, dim)

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """A copy of ``mha``'s weights in this layout (same outputs, batch-first inputs)."""
        if mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("nn.MultiheadAttention with add_bias_kv or add_zero_attn has no equivalent here")
        module = cls(
            mha.embed_dim, mha.num_heads, kdim=mha.kdim, vdim=mha.vdim,
            dropout=mha.dropout, bias=mha.in_proj_bias is not None,
        )
        weight = next(mha.parameters())
        module.to(device=weight.device, dtype=weight.dtype)
        module.load_state_dict(unpack_in_proj(mha.state_dict()))
        return module


def unpack_in_proj(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename ``nn.MultiheadAttention`` keys anywhere in a state dict to this module's layout.

    ``<p>in_proj_weight`` (3 * dim, dim) and ``<p>in_proj_bias`` split into
    ``<p>{q,k,v}_proj.{weight,bias}``; ``<p>{q,k,v}_proj_weight`` (used when kdim/vdim differ)
    become ``<p>{q,k,v}_proj.weight``. Other keys, ``out_proj.*`` included, pass unchanged, so a
    whole original-DETR checkpoint can go through in one call.
    """
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state_dict.items():
        prefix, _, leaf = name.rpartition(".")
        prefix = prefix + "." if prefix else ""
        if leaf in ("in_proj_weight", "in_proj_bias"):
            if tensor.shape[0] % 3:
                raise ValueError(f"{name} must stack q, k, v along dim 0, got shape {tuple(tensor.shape)}")
            kind = "weight" if leaf == "in_proj_weight" else "bias"
            for part, chunk in zip("qkv", tensor.chunk(3, dim=0)):
                out[f"{prefix}{part}_proj.{kind}"] = chunk
        elif leaf in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
            out[f"{prefix}{leaf[0]}_proj.weight"] = tensor
        else:
            out[name] = tensor
    return out
