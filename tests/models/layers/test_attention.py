"""Multi-head attention against an explicit float64 softmax(QK^T / sqrt(d)) V, RoPE, weight loading."""

from __future__ import annotations

import math
from contextlib import nullcontext as does_not_raise

import pytest
import torch
from torch import nn

from sensorium.models.layers import attention as attn_mod
from sensorium.models.layers.attention import (
    AxialRotaryEmbedding, MultiHeadAttention, RotaryEmbedding, apply_rotary, attention, unpack_in_proj,
)


@pytest.fixture(autouse=True)
def auto_backend(monkeypatch):
    """Every test sees the default backend, whatever SENSORIUM_ATTENTION the shell has."""
    monkeypatch.delenv(attn_mod.ENV_BACKEND, raising=False)
    attn_mod.set_attention_backend(None)
    yield
    attn_mod.set_attention_backend(None)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def reference(q, k, v, *, key_padding_mask=None, attn_mask=None, causal=False):
    """softmax(q k^T / sqrt(d) + mask) v in float64; rows with no allowed key -> 0."""
    q, k, v = q.double(), k.double(), v.double()
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, S)
    blocked = torch.zeros(scores.shape, dtype=torch.bool)
    if key_padding_mask is not None:
        blocked |= key_padding_mask[:, None, None, :]
    if causal:
        blocked |= torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1)
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        blocked |= attn_mask
    elif attn_mask is not None:
        scores = scores + attn_mask.double()
    scores = scores.masked_fill(blocked, float("-inf"))
    return torch.softmax(scores, dim=-1).nan_to_num(0.0) @ v


def module_reference(m: MultiHeadAttention, query, key, value, **masks):
    """The module's computation written out in float64 with its own weights."""
    def proj(lin, x):
        return x.double() @ lin.weight.double().T + lin.bias.double()

    def heads(x):
        return x.unflatten(-1, (m.heads, m.head_dim)).transpose(1, 2)

    out = reference(heads(proj(m.q_proj, query)), heads(proj(m.k_proj, key)), heads(proj(m.v_proj, value)), **masks)
    return proj(m.out_proj, out.transpose(1, 2).flatten(2))


def padding(B, S, *, lengths):
    return torch.arange(S)[None, :] >= torch.tensor(lengths)[:, None]  # (B, S) True at padding


B, DIM, HEADS = 2, 32, 4
MASK_CASES = {
    "none": lambda T, S: {},
    "key_padding": lambda T, S: {"key_padding_mask": padding(B, S, lengths=[S, S // 2])},
    "bool_mask": lambda T, S: {"attn_mask": torch.rand(T, S, generator=gen(1)) < 0.3},
    "float_mask": lambda T, S: {"attn_mask": torch.randn(B, 1, T, S, generator=gen(2))},
    "float_mask+padding": lambda T, S: {
        "attn_mask": torch.randn(T, S, generator=gen(3)), "key_padding_mask": padding(B, S, lengths=[3, S]),
    },
    "bool_mask+padding": lambda T, S: {
        "attn_mask": torch.rand(1, HEADS, T, S, generator=gen(4)) < 0.5,
        "key_padding_mask": padding(B, S, lengths=[S - 1, 5]),
    },
    "causal": lambda T, S: {"causal": True},
    "causal+padding": lambda T, S: {"causal": True, "key_padding_mask": padding(B, S, lengths=[S, 4])},
}


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
@pytest.mark.parametrize("T, S, cross", [(37, 37, False), (1, 1, False), (37, 53, True), (9, 4, True)])
@pytest.mark.parametrize("mask_case", list(MASK_CASES))
def test_module_matches_float64_reference(dtype, tol, T, S, cross, mask_case):
    m = MultiHeadAttention(DIM, HEADS, kdim=24 if cross else None, vdim=16 if cross else None).to(dtype).eval()
    with torch.no_grad():  # non-zero biases, so a dropped bias would show
        for p in m.parameters():
            p.add_(torch.randn(p.shape, generator=gen(5), dtype=dtype) * 0.1)
    query = torch.randn(B, T, DIM, generator=gen(6), dtype=dtype)
    key = torch.randn(B, S, 24, generator=gen(7), dtype=dtype) if cross else None
    value = torch.randn(B, S, 16, generator=gen(8), dtype=dtype) if cross else None
    masks = MASK_CASES[mask_case](T, S)
    out = m(query, key, value, **masks)
    expected = module_reference(m, query, query if key is None else key, query if value is None else value, **masks)
    assert out.shape == (B, T, DIM) and out.dtype == dtype
    torch.testing.assert_close(out.double(), expected, atol=tol, rtol=tol)


@pytest.mark.parametrize(
    "masks, dead",  # dead: (batch, query) rows whose keys are all blocked
    [
        ({"key_padding_mask": padding(B, 5, lengths=[5, 0])}, [(1, q) for q in range(7)]),
        ({"attn_mask": torch.tensor([[True] * 5] + [[False] * 5] * 6)}, [(0, 0), (1, 0)]),
        ({"attn_mask": torch.zeros(7, 5).index_fill_(0, torch.tensor([3]), float("-inf"))}, [(0, 3), (1, 3)]),
        ({"attn_mask": torch.tensor([[False] * 4 + [True]] * 7), "key_padding_mask": padding(B, 5, lengths=[5, 1])},
         []),
        ({"attn_mask": torch.tensor([[True] * 3 + [False] * 2] * 7), "key_padding_mask": padding(B, 5, lengths=[5, 3])},
         [(1, q) for q in range(7)]),
    ],
    ids=["padding", "bool", "float", "partial", "bool+padding"],
)
def test_fully_masked_rows_give_zeros_and_finite_gradients(masks, dead):
    q, k, v = (torch.randn(B, HEADS, L, 8, generator=gen(i), requires_grad=True) for i, L in enumerate((7, 5, 5)))
    out = attention(q, k, v, **masks)
    assert torch.isfinite(out).all()
    alive = torch.ones(B, 7, dtype=torch.bool)
    for b, t in dead:
        alive[b, t] = False
        assert (out[b, :, t] == 0).all()
    torch.testing.assert_close(out, reference(q, k, v, **masks).float(), atol=2e-6, rtol=2e-6)
    assert (out.transpose(1, 2)[alive] != 0).any(dim=-1).all()  # live rows are not zeroed
    out.square().sum().backward()
    for t in (q, k, v):
        assert torch.isfinite(t.grad).all()
    assert (q.grad.transpose(1, 2)[~alive] == 0).all()


def test_gradients_flow_to_every_projection():
    m = MultiHeadAttention(DIM, HEADS, dropout=0.1).train()
    x = torch.randn(B, 11, DIM, generator=gen(), requires_grad=True)
    m(x, key_padding_mask=padding(B, 11, lengths=[11, 6])).sum().backward()
    for name, p in [("input", x), *m.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


# --- rotary embeddings ---------------------------------------------------------------------------


def rotated_scores(q, k, rope_q, rope_k):
    return apply_rotary(q, rope_q) @ apply_rotary(k, rope_k).transpose(-2, -1)  # (B, H, T, S)


def test_rotary_matches_the_rotation_formula():
    D, base, p = 8, 100.0, 3
    rope = RotaryEmbedding(D, base=base)(torch.tensor([p]))
    x = torch.randn(1, 1, 1, D, generator=gen(), dtype=torch.float64)
    expected = torch.empty_like(x)
    for i in range(D // 2):
        a = p * base ** (-2 * i / D)
        x0, x1 = x[..., 2 * i], x[..., 2 * i + 1]
        expected[..., 2 * i] = x0 * math.cos(a) - x1 * math.sin(a)
        expected[..., 2 * i + 1] = x0 * math.sin(a) + x1 * math.cos(a)
    torch.testing.assert_close(apply_rotary(x, rope), expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("shift", [1, 17, 250])
@pytest.mark.parametrize("batched", [False, True])
def test_rope_scores_depend_only_on_relative_offset(shift, batched):
    rope = RotaryEmbedding(32)
    q = torch.randn(2, 3, 9, 32, generator=gen(1), dtype=torch.float64)
    k = torch.randn(2, 3, 13, 32, generator=gen(2), dtype=torch.float64)
    pq, pk = torch.arange(9, dtype=torch.float64) * 2, torch.arange(13, dtype=torch.float64) + 5
    if batched:
        pq, pk = torch.stack((pq, pq + 3)), torch.stack((pk, pk + 3))  # per-batch positions, same offsets
    base = rotated_scores(q, k, rope(pq), rope(pk))
    torch.testing.assert_close(rotated_scores(q, k, rope(pq + shift), rope(pk + shift)), base, atol=1e-9, rtol=1e-9)
    assert not torch.allclose(rotated_scores(q, k, rope(pq + shift), rope(pk)), base, atol=1e-3)
    torch.testing.assert_close(apply_rotary(q, rope(pq)).norm(dim=-1), q.norm(dim=-1))  # a rotation


@pytest.mark.parametrize("d_row, d_col", [(1, 0), (0, 3), (5, 7)])
def test_axial_rope_scores_depend_only_on_2d_offset(d_row, d_col):
    rope = AxialRotaryEmbedding(16)
    H, W = 4, 6
    q = torch.randn(1, 2, H * W, 16, generator=gen(1), dtype=torch.float64)
    k = torch.randn(1, 2, H * W, 16, generator=gen(2), dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij"), -1).flatten(0, 1).double()
    shift = torch.tensor([d_row, d_col], dtype=torch.float64)
    base = rotated_scores(q, k, rope(grid), rope(grid))
    torch.testing.assert_close(rotated_scores(q, k, rope(grid + shift), rope(grid + shift)), base)
    assert not torch.allclose(rotated_scores(q, k, rope(grid + shift), rope(grid)), base, atol=1e-3)


def test_axial_rope_rows_turn_the_first_half_and_columns_the_second():
    rope = AxialRotaryEmbedding(16)
    x = torch.randn(1, 1, 1, 16, generator=gen(), dtype=torch.float64)
    at = lambda r, c: apply_rotary(x, rope(torch.tensor([[r, c]], dtype=torch.float64)))  # noqa: E731
    torch.testing.assert_close(at(0, 0), x)
    torch.testing.assert_close(at(3, 0)[..., 8:], x[..., 8:])  # a row move leaves the column half alone
    torch.testing.assert_close(at(0, 3)[..., :8], x[..., :8])
    assert not torch.allclose(at(3, 0)[..., :8], x[..., :8])
    torch.testing.assert_close(rope.grid(2, 3).cos, rope(torch.tensor([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]])).cos)


def test_module_rope_rotates_projected_queries_and_keys():
    m = MultiHeadAttention(DIM, HEADS).double().eval()
    x = torch.randn(B, 10, DIM, generator=gen(), dtype=torch.float64)
    mem = torch.randn(B, 12, DIM, generator=gen(1), dtype=torch.float64)
    rq, rk = RotaryEmbedding(DIM // HEADS)(torch.arange(10)), RotaryEmbedding(DIM // HEADS)(torch.arange(12) + 4)

    def manual(query, key, rope_q, rope_k):
        split = lambda t: t.unflatten(-1, (HEADS, DIM // HEADS)).transpose(1, 2)  # noqa: E731
        q, k, v = split(m.q_proj(query)), split(m.k_proj(key)), split(m.v_proj(key))
        out = reference(apply_rotary(q, rope_q), apply_rotary(k, rope_k), v)
        return m.out_proj(out.transpose(1, 2).flatten(2))

    torch.testing.assert_close(m(x, rope=rq), manual(x, x, rq, rq))
    torch.testing.assert_close(m(x, mem, rope=(rq, rk)), manual(x, mem, rq, rk))
    assert not torch.allclose(m(x, rope=rq), m(x))


# --- nn.MultiheadAttention weights -------------------------------------------------------------


@pytest.mark.parametrize(
    "kdim, vdim, bias, masks",
    [
        (None, None, True, {}),
        (None, None, True, {"key_padding_mask": padding(B, 13, lengths=[13, 7])}),
        (None, None, False, {"attn_mask": torch.rand(9, 13, generator=gen(1)) < 0.4}),
        # an additive float mask in the inputs' dtype (torch 2.14 treats a float32 mask on float64 inputs otherwise)
        (20, 12, True, {"attn_mask": torch.randn(9, 13, generator=gen(2), dtype=torch.float64)}),
    ],
)
def test_from_torch_matches_nn_multihead_attention(kdim, vdim, bias, masks):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(DIM, HEADS, bias=bias, kdim=kdim, vdim=vdim, batch_first=True).double().eval()
    if bias:
        with torch.no_grad():
            mha.in_proj_bias.normal_()
    ours = MultiHeadAttention.from_torch(mha).eval()
    query = torch.randn(B, 9, DIM, generator=gen(3), dtype=torch.float64)
    key = torch.randn(B, 13, kdim or DIM, generator=gen(4), dtype=torch.float64)
    value = torch.randn(B, 13, vdim or DIM, generator=gen(5), dtype=torch.float64)
    expected, _ = mha(query, key, value, need_weights=False, **masks)
    torch.testing.assert_close(ours(query, key, value, **masks), expected)


def test_unpack_in_proj_renames_nested_keys_and_keeps_the_rest():
    layer = nn.TransformerEncoderLayer(DIM, HEADS, batch_first=True)
    state = unpack_in_proj(layer.state_dict())
    packed = layer.self_attn.in_proj_weight.detach()
    assert "self_attn.in_proj_weight" not in state
    torch.testing.assert_close(torch.cat([state[f"self_attn.{p}_proj.weight"] for p in "qkv"]), packed)
    assert {"self_attn.q_proj.bias", "self_attn.out_proj.weight", "linear1.weight", "norm2.bias"} <= set(state)
    with pytest.raises(ValueError, match="stack q, k, v"):
        unpack_in_proj({"attn.in_proj_weight": torch.zeros(5, 4)})


# --- validation and the backend switch ------------------------------------------------------------


@pytest.mark.parametrize(
    "call, expectation",
    [
        (lambda m, x: m(x), does_not_raise()),
        (lambda m, x: m(x[0]), pytest.raises(ValueError, match=r"expected query \(B, L, 32\)")),
        (lambda m, x: m(x, torch.zeros(B, 5, 16)), pytest.raises(ValueError, match=r"expected key \(B, L, 32\)")),
        (lambda m, x: m(x, x, x[:, :3]), pytest.raises(ValueError, match="key and value")),
        (lambda m, x: m(x, key_padding_mask=torch.zeros(B, 6)), pytest.raises(ValueError, match="bool")),
        (lambda m, x: m(x, key_padding_mask=torch.zeros(B, 5, dtype=torch.bool)), pytest.raises(ValueError, match=r"\(2, 6\)")),
        (lambda m, x: m(x, attn_mask=torch.zeros(6, 5)), pytest.raises(ValueError, match="broadcast")),
        (lambda m, x: m(x, attn_mask=torch.zeros(6, 6, dtype=torch.int64)), pytest.raises(ValueError, match="bool .* or float")),
        (lambda m, x: m(x, rope=RotaryEmbedding(8)(torch.arange(5))), pytest.raises(ValueError, match="rotary tables")),
        (lambda m, x: m(x, rope=tuple(RotaryEmbedding(8)(torch.arange(6)))), pytest.raises(ValueError, match="pair of them")),
        (lambda m, x: MultiHeadAttention(30, 4), pytest.raises(ValueError, match="multiple of heads")),
        (lambda m, x: RotaryEmbedding(7), pytest.raises(ValueError, match="even")),
        (lambda m, x: AxialRotaryEmbedding(6), pytest.raises(ValueError, match="multiple of 4")),
    ],
)
def test_validation(call, expectation):
    m, x = MultiHeadAttention(DIM, HEADS), torch.randn(B, 6, DIM)
    with expectation:
        call(m, x)


def test_backend_switch(monkeypatch):
    assert attn_mod.attention_backend() == "auto"
    monkeypatch.setenv(attn_mod.ENV_BACKEND, "SDPA")
    assert attn_mod.attention_backend() == "sdpa"
    attn_mod.set_attention_backend("triton")
    assert attn_mod.attention_backend() == "triton"  # the override beats the env var
    attn_mod.set_attention_backend(None)
    monkeypatch.setenv(attn_mod.ENV_BACKEND, "cudnn")
    with pytest.raises(ValueError, match="auto, sdpa, triton"):
        attn_mod.attention_backend()
    with pytest.raises(ValueError, match="must be one of"):
        attn_mod.set_attention_backend("flash")


def test_forced_triton_refuses_what_it_cannot_run():
    triton_attention = pytest.importorskip("sensorium.models.layers.triton_attention")
    q = torch.randn(1, 2, 5, 16)
    attn_mod.set_attention_backend("triton")
    with pytest.raises(ValueError, match="attn_mask, dropout or gradients"):
        attention(q, q, q, attn_mask=torch.zeros(5, 5))
    with pytest.raises(ValueError, match="head_dim"):
        attention(torch.randn(1, 2, 5, 24), torch.randn(1, 2, 5, 24), torch.randn(1, 2, 5, 24))
    if not triton_attention.INTERPRETED:
        with pytest.raises(ValueError, match="CUDA"):
            attention(q, q, q)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:# The axis name")
def test_onnx_export_matches_eager_on_two_shapes(tmp_path):
    ort = pytest.importorskip("onnxruntime")

    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = MultiHeadAttention(DIM, HEADS)
            self.rope = AxialRotaryEmbedding(DIM // HEADS)

        def forward(self, x, mask, grid):
            return self.attn(x, key_padding_mask=mask, rope=self.rope(grid))

    def inputs(T, lengths):
        grid = torch.stack((torch.arange(T) // 4, torch.arange(T) % 4), -1)
        return torch.randn(B, T, DIM, generator=gen(T)), padding(B, T, lengths=lengths), grid

    model = Wrapped().eval()
    T = torch.export.Dim("T", min=2, max=512)
    batch = torch.export.Dim("batch", min=1, max=64)
    path = tmp_path / "attention.onnx"
    torch.onnx.export(
        model, inputs(12, [12, 0]), str(path), dynamo=True,
        input_names=["x", "mask", "grid"], output_names=["y"],
        dynamic_shapes={"x": {0: batch, 1: T}, "mask": {0: batch, 1: T}, "grid": {0: T}},
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for T_, lengths in ((12, [12, 0]), (37, [20, 37])):
        x, mask, grid = inputs(T_, lengths)
        (y,) = session.run(None, {"x": x.numpy(), "mask": mask.numpy(), "grid": grid.numpy()})
        with torch.no_grad():
            expected = model(x, mask, grid)
        assert torch.isfinite(torch.from_numpy(y)).all()
        torch.testing.assert_close(torch.from_numpy(y), expected, atol=1e-5, rtol=1e-4)
