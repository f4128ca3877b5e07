"""FlashAttention forward in Triton: exact attention without the (T, S) score matrix.

Each program owns BLOCK_M queries of one (batch, head) and walks the keys BLOCK_N at a time,
keeping a running row maximum ``m``, a running sum ``l`` of ``exp(s - m)`` and an fp32
accumulator that is rescaled by ``exp(m_old - m_new)`` whenever the maximum grows (the online
softmax of Milakov & Gimelshein, as in FlashAttention). Memory is O(T * D) and every key block
is read once per query block.

Forward only: :func:`sensorium.models.layers.attention.attention` sends anything that needs
gradients, dropout or a general ``attn_mask`` to SDPA. Runs on CUDA tensors, or on CPU
tensors when this module was imported with ``TRITON_INTERPRET=1`` (Triton's interpreter,
used by the tests).
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
import triton
import triton.language as tl

HEAD_DIMS = (16, 32, 64, 128)
DTYPES = (torch.float16, torch.bfloat16, torch.float32)
_LOG2E = 1.4426950408889634  # softmax in base 2: exp(x) = exp2(x * log2(e)), exp2 is one instruction


@triton.jit
def _attn_fwd(
    Q, K, V, Out, PadMask,
    stride_qb, stride_qh, stride_qt, stride_qd,
    stride_kb, stride_kh, stride_ks, stride_kd,
    stride_vb, stride_vh, stride_vs, stride_vd,
    stride_ob, stride_oh, stride_ot, stride_od,
    stride_mb, stride_ms,
    H, T, S, qk_scale,
    HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    HAS_PAD: tl.constexpr,
    CAUSAL: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = (pid_bh // H).to(tl.int64)  # int64: batch * stride can pass 2**31 elements
    h = (pid_bh % H).to(tl.int64)

    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)  # (BLOCK_M,) query rows
    offs_n = tl.arange(0, BLOCK_N)  # (BLOCK_N,) key columns within a block
    offs_d = tl.arange(0, HEAD_DIM)
    row_ok = offs_m < T

    q_ptrs = Q + b * stride_qb + h * stride_qh + offs_m[:, None] * stride_qt + offs_d[None, :] * stride_qd
    q = tl.load(q_ptrs, mask=row_ok[:, None], other=0.0)  # (BLOCK_M, HEAD_DIM)
    k_base = K + b * stride_kb + h * stride_kh
    v_base = V + b * stride_vb + h * stride_vh

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)  # running max of scaled scores (base 2)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)  # running sum of exp2(score - m_i)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)

    if CAUSAL:  # top-left aligned: keys past this block's last query are never needed
        hi = tl.minimum(S, (pid_m + 1) * BLOCK_M)
    else:
        hi = S
    for start_n in range(0, hi, BLOCK_N):
        cols = start_n + offs_n
        col_ok = cols < S
        k = tl.load(
            k_base + cols[None, :] * stride_ks + offs_d[:, None] * stride_kd, mask=col_ok[None, :], other=0.0
        )  # (HEAD_DIM, BLOCK_N)
        s = tl.dot(q, k, input_precision=DOT_PRECISION) * qk_scale  # (BLOCK_M, BLOCK_N) fp32
        keep = col_ok[None, :] & row_ok[:, None]
        if HAS_PAD:
            pad = tl.load(PadMask + b * stride_mb + cols * stride_ms, mask=col_ok, other=1)
            keep = keep & (pad == 0)[None, :]
        if CAUSAL:
            keep = keep & (cols[None, :] <= offs_m[:, None])
        s = tl.where(keep, s, float("-inf"))

        m_new = tl.maximum(m_i, tl.max(s, 1))
        # A row with no key so far has m_new = -inf; subtracting 0 instead keeps -inf - -inf
        # (NaN) out, and exp2(-inf) = 0 leaves it empty.
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)
        alpha = tl.exp2(m_i - m_ref)  # (BLOCK_M,) rescales what was accumulated so far
        p = tl.exp2(s - m_ref[:, None])  # (BLOCK_M, BLOCK_N)
        l_i = l_i * alpha + tl.sum(p, 1)
        v = tl.load(
            v_base + cols[:, None] * stride_vs + offs_d[None, :] * stride_vd, mask=col_ok[:, None], other=0.0
        )  # (BLOCK_N, HEAD_DIM)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
        m_i = m_new

    # Rows whose keys were all blocked have l = 0 and acc = 0: their output is 0, not NaN.
    out = acc / tl.where(l_i == 0.0, 1.0, l_i)[:, None]
    o_ptrs = Out + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_ot + offs_d[None, :] * stride_od
    tl.store(o_ptrs, out.to(Out.dtype.element_ty), mask=row_ok[:, None])


#: True when the kernel was decorated under TRITON_INTERPRET=1 (runs on CPU tensors, slowly).
INTERPRETED = not isinstance(_attn_fwd, triton.runtime.JITFunction)


def unsupported(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> str | None:
    """Why :func:`flash_attention` cannot take these (B, H, T|S, D) tensors, or None when it can."""
    if q.dim() != 4 or k.shape != v.shape or q.shape[:2] != k.shape[:2] or q.shape[3] != k.shape[3]:
        return f"q must be (B, H, T, D) and k, v (B, H, S, D), got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
    if q.dtype not in DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        return f"q, k, v must share one dtype of float16, bfloat16, float32, got {q.dtype}, {k.dtype}, {v.dtype}"
    if q.shape[3] not in HEAD_DIMS:
        return f"head_dim must be one of {HEAD_DIMS}, got {q.shape[3]}"
    if not (q.device == k.device == v.device):
        return f"q, k, v must be on one device, got {q.device}, {k.device}, {v.device}"
    if INTERPRETED and q.dtype == torch.bfloat16:
        # The interpreter keeps bfloat16 as uint16 and tl.dot multiplies the bit patterns
        # (triton-lang/triton#11584, not supported upstream): refuse rather than return garbage.
        return "Triton's interpreter cannot run tl.dot on bfloat16 (triton-lang/triton#11584)"
    if q.device.type != "cuda" and not INTERPRETED:
        return f"the Triton kernel needs CUDA tensors (or TRITON_INTERPRET=1 at import), got {q.device}"
    if q.shape[0] * q.shape[1] > 65535:
        return f"batch * heads must be <= 65535 (grid axis 1), got {q.shape[0] * q.shape[1]}"
    if k.shape[2] == 0:
        return "need at least one key"
    return None


def _config(dtype: torch.dtype, head_dim: int) -> tuple[int, int, int, int]:
    """(BLOCK_M, BLOCK_N, num_warps, num_stages) that fit shared memory on sm80+."""
    if INTERPRETED:
        return 16, 16, 1, 1  # small tiles: the tests cross several key and query blocks
    if dtype == torch.float32:
        return (64, 32, 4, 2) if head_dim == 128 else (64, 64, 4, 2)
    if head_dim == 128:
        return 128, 64, 8, 2
    return 128, 64, 4, 3


def flash_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    key_padding_mask: torch.Tensor | None = None,
    causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """Exact softmax(q k^T * scale) v, computed tile by tile.

    q: (B, H, T, D), k and v: (B, H, S, D); one dtype of float16 / bfloat16 / float32 (scores,
    softmax and accumulation in float32), D in {16, 32, 64, 128}, any T and S >= 1, any strides.
    key_padding_mask: (B, S) bool, True at padding. causal: query i sees keys j <= i (top-left
    aligned, as SDPA's ``is_causal``). scale: default D ** -0.5. Returns (B, H, T, D) in q's
    dtype; a query whose keys are all masked gets zeros. float32 inputs use IEEE products unless
    ``torch.backends.cuda.matmul.allow_tf32`` is set.
    """
    reason = unsupported(q, k, v)
    if reason is not None:
        raise ValueError(reason)
    B, H, T, D = q.shape
    S = k.shape[2]
    if key_padding_mask is not None:
        if key_padding_mask.dtype != torch.bool or key_padding_mask.shape != (B, S):
            raise ValueError(
                f"key_padding_mask must be ({B}, {S}) bool, got {tuple(key_padding_mask.shape)} {key_padding_mask.dtype}"
            )
        pad = key_padding_mask.to(device=q.device, dtype=torch.int8)
    else:
        pad = torch.zeros(1, 1, dtype=torch.int8, device=q.device)  # valid pointer, never read
    scale = D**-0.5 if scale is None else scale
    out = torch.empty_like(q, memory_format=torch.contiguous_format)  # (B, H, T, D)
    if T == 0:
        return out
    # Precision only matters for float32 operands (half types always multiply exactly into fp32).
    ieee = q.dtype == torch.float32 and (INTERPRETED or not torch.backends.cuda.matmul.allow_tf32)
    block_m, block_n, num_warps, num_stages = _config(q.dtype, D)
    grid = (triton.cdiv(T, block_m), B * H)
    with torch.cuda.device(q.device) if q.is_cuda else nullcontext():
        _attn_fwd[grid](
            q, k, v, out, pad,
            *q.stride(), *k.stride(), *v.stride(), *out.stride(),
            pad.stride(0), pad.stride(1),
            H, T, S, scale * _LOG2E,
            HEAD_DIM=D, BLOCK_M=block_m, BLOCK_N=block_n,
            HAS_PAD=key_padding_mask is not None, CAUSAL=causal,
            DOT_PRECISION="ieee" if ieee else "tf32",
            num_warps=num_warps, num_stages=num_stages,
        )
    return out

