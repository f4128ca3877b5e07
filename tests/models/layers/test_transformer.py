"""Encoder/decoder layers against torch's nn.Transformer*Layer (copied weights) and a float64 DETR-style re-implementation."""

from __future__ import annotations

import math
from contextlib import nullcontext as does_not_raise
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sensorium.models.layers import attention as attn_mod
from sensorium.models.layers.attention import RotaryEmbedding, unpack_in_proj
from sensorium.models.layers.transformer import Decoder, DecoderLayer, Encoder, EncoderLayer

DIM, HEADS, B = 32, 4, 2


@pytest.fixture(autouse=True)
def auto_backend(monkeypatch):
    monkeypatch.delenv(attn_mod.ENV_BACKEND, raising=False)
    attn_mod.set_attention_backend(None)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=gen(seed), dtype=torch.float64)


def padding(lengths, S):
    return torch.arange(S)[None, :] >= torch.tensor(lengths)[:, None]  # (B, S) True at padding


def perturb(module: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial biases and norm affines, so a dropped or swapped one shows."""
    g = gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.1)
    return module


def from_torch(ours: nn.Module, theirs: nn.Module) -> nn.Module:
    """Load a torch/original-DETR layer's state (packed in_proj, ``multihead_attn``) into ours."""
    state = {k.replace("multihead_attn.", "cross_attn."): v for k, v in unpack_in_proj(theirs.state_dict()).items()}
    ours.load_state_dict(state)
    return ours


# --- float64 re-implementation (DETR's transformer.py, batch-first) -------------------------------


def ref_attention(attn, query, key, value, key_padding_mask=None, attn_mask=None):
    lin = lambda m, x: F.linear(x, m.weight.double(), m.bias.double())  # noqa: E731
    split = lambda x: x.unflatten(-1, (attn.heads, attn.head_dim)).transpose(1, 2)  # noqa: E731
    q, k, v = split(lin(attn.q_proj, query)), split(lin(attn.k_proj, key)), split(lin(attn.v_proj, value))
    scores = q @ k.transpose(-2, -1) / math.sqrt(attn.head_dim)
    if attn_mask is not None:
        scores = scores.masked_fill(attn_mask, float("-inf"))
    if key_padding_mask is not None:
        scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v
    return lin(attn.out_proj, out.transpose(1, 2).flatten(2))


def ref_norm(norm, x):
    return F.layer_norm(x, norm.normalized_shape, norm.weight.double(), norm.bias.double(), norm.eps)


def ref_mlp(layer, x):
    h = layer.activation(F.linear(x, layer.linear1.weight.double(), layer.linear1.bias.double()))
    return F.linear(h, layer.linear2.weight.double(), layer.linear2.bias.double())


def ref_encoder_layer(layer, x, pos, kpm):
    with_pos = lambda t: t if pos is None else t + pos  # noqa: E731
    if layer.norm_first:
        h = ref_norm(layer.norm1, x)
        x = x + ref_attention(layer.self_attn, with_pos(h), with_pos(h), h, kpm)
        return x + ref_mlp(layer, ref_norm(layer.norm2, x))
    x = ref_norm(layer.norm1, x + ref_attention(layer.self_attn, with_pos(x), with_pos(x), x, kpm))
    return ref_norm(layer.norm2, x + ref_mlp(layer, x))


def ref_decoder_layer(layer, tgt, memory, query_pos, pos, tgt_mask, memory_kpm):
    qp = lambda t: t + query_pos  # noqa: E731
    if layer.norm_first:
        h = ref_norm(layer.norm1, tgt)
        x = tgt + ref_attention(layer.self_attn, qp(h), qp(h), h, attn_mask=tgt_mask)
        h = ref_norm(layer.norm2, x)
        x = x + ref_attention(layer.cross_attn, qp(h), memory + pos, memory, memory_kpm)
        return x + ref_mlp(layer, ref_norm(layer.norm3, x))
    x = ref_norm(layer.norm1, tgt + ref_attention(layer.self_attn, qp(tgt), qp(tgt), tgt, attn_mask=tgt_mask))
    x = ref_norm(layer.norm2, x + ref_attention(layer.cross_attn, qp(x), memory + pos, memory, memory_kpm))
    return ref_norm(layer.norm3, x + ref_mlp(layer, x))


NORMS = pytest.mark.parametrize("norm_first, activation", [(True, nn.GELU), (False, nn.ReLU)], ids=["pre-gelu", "post-relu"])


@NORMS
@pytest.mark.parametrize("with_pos", [False, True])
@pytest.mark.parametrize("T, lengths", [(13, None), (13, [13, 6]), (1, None)])
def test_encoder_layer_matches_float64_reimplementation(norm_first, activation, with_pos, T, lengths):
    layer = perturb(EncoderLayer(DIM, HEADS, 2.0, norm_first=norm_first, activation=activation).double().eval())
    x, pos = randn(B, T, DIM, seed=1), randn(B, T, DIM, seed=2) if with_pos else None
    kpm = padding(lengths, T) if lengths else None
    expected = ref_encoder_layer(layer, x, pos, kpm)
    torch.testing.assert_close(layer(x, pos=pos, key_padding_mask=kpm), expected)


@NORMS
@pytest.mark.parametrize("lengths", [None, [11, 4]])
def test_encoder_layer_matches_torch_layer_with_copied_weights(norm_first, activation, lengths):
    theirs = nn.TransformerEncoderLayer(
        DIM, HEADS, 48, dropout=0.0, activation=activation(), batch_first=True, norm_first=norm_first
    ).double()
    theirs = perturb(theirs).train()  # train(): the slow path, which keeps padded query rows
    ours = from_torch(EncoderLayer(DIM, HEADS, 1.5, norm_first=norm_first, activation=activation).double(), theirs)
    x = randn(B, 11, DIM, seed=3)
    kpm = padding(lengths, 11) if lengths else None
    torch.testing.assert_close(ours(x, key_padding_mask=kpm), theirs(x, src_key_padding_mask=kpm))


@NORMS
@pytest.mark.parametrize("Q, S, lengths", [(5, 17, None), (5, 17, [17, 9]), (1, 3, [2, 3])])
def test_decoder_layer_matches_float64_reimplementation(norm_first, activation, Q, S, lengths):
    layer = perturb(DecoderLayer(DIM, HEADS, norm_first=norm_first, activation=activation).double().eval())
    tgt, memory = randn(B, Q, DIM, seed=1), randn(B, S, DIM, seed=2)
    query_pos, pos = randn(B, Q, DIM, seed=3), randn(B, S, DIM, seed=4)
    tgt_mask = torch.ones(Q, Q, dtype=torch.bool).triu(1)
    kpm = padding(lengths, S) if lengths else None
    out = layer(tgt, memory, query_pos=query_pos, pos=pos, tgt_mask=tgt_mask, memory_key_padding_mask=kpm)
    torch.testing.assert_close(out, ref_decoder_layer(layer, tgt, memory, query_pos, pos, tgt_mask, kpm))


@NORMS
def test_decoder_layer_matches_torch_layer_with_copied_weights(norm_first, activation):
    theirs = nn.TransformerDecoderLayer(
        DIM, HEADS, 64, dropout=0.0, activation=activation(), batch_first=True, norm_first=norm_first
    ).double()
    theirs = perturb(theirs).train()
    ours = from_torch(DecoderLayer(DIM, HEADS, 2.0, norm_first=norm_first, activation=activation).double(), theirs)
    tgt, memory = randn(B, 6, DIM, seed=1), randn(B, 15, DIM, seed=2)
    causal = torch.ones(6, 6, dtype=torch.bool).triu(1)
    kpm, tgt_kpm = padding([15, 8], 15), padding([6, 5], 6)
    expected = theirs(tgt, memory, tgt_mask=causal, tgt_key_padding_mask=tgt_kpm, memory_key_padding_mask=kpm)
    out = ours(tgt, memory, tgt_mask=causal, tgt_key_padding_mask=tgt_kpm, memory_key_padding_mask=kpm)
    torch.testing.assert_close(out, expected)


def test_decoder_returns_every_layer_through_the_shared_norm():
    layer = partial(DecoderLayer, DIM, HEADS, 2.0, 0.1, norm_first=False, activation=nn.ReLU)
    dec = perturb(Decoder(layer, 3, nn.LayerNorm(DIM), return_intermediate=True).double()).eval()
    plain = Decoder(list(dec.layers), final_norm=dec.norm).eval()
    tgt, memory = randn(B, 4, DIM, seed=1), randn(B, 9, DIM, seed=2)
    kw = {"query_pos": randn(B, 4, DIM, seed=3), "pos": randn(B, 9, DIM, seed=4),
          "memory_key_padding_mask": padding([9, 5], 9)}
    stacked = dec(tgt, memory, **kw)
    assert stacked.shape == (3, B, 4, DIM)
    x = tgt
    for i, lyr in enumerate(dec.layers):
        x = lyr(x, memory, **kw)
        torch.testing.assert_close(stacked[i], dec.norm(x))
    torch.testing.assert_close(plain(tgt, memory, **kw), stacked[-1])


def test_encoder_stacks_fresh_layers_and_applies_the_final_norm():
    enc = Encoder(lambda: EncoderLayer(DIM, HEADS), 3, nn.LayerNorm(DIM)).double().eval()
    perturb(enc.norm)
    w = [lyr.self_attn.q_proj.weight for lyr in enc.layers]
    assert len(w) == 3 and not torch.equal(w[0], w[1])  # a factory call each, not copies
    x, pos, kpm = randn(B, 7, DIM), randn(B, 7, DIM, seed=1), padding([7, 3], 7)
    expected = x
    for lyr in enc.layers:
        expected = lyr(expected, pos=pos, key_padding_mask=kpm)
    torch.testing.assert_close(enc(x, pos=pos, key_padding_mask=kpm), enc.norm(expected))
    names = {n for n, _ in enc.named_parameters()}
    assert {"layers.2.self_attn.k_proj.weight", "layers.0.linear2.bias", "layers.1.norm2.weight", "norm.weight"} <= names


def test_rope_reaches_the_attention_of_every_layer():
    enc = Encoder(lambda: EncoderLayer(DIM, HEADS), 2).double().eval()
    x = randn(B, 6, DIM)
    rope = RotaryEmbedding(DIM // HEADS)(torch.arange(6))
    expected = x
    for lyr in enc.layers:
        expected = lyr(expected, rope=rope)
    torch.testing.assert_close(enc(x, rope=rope), expected)
    assert not torch.allclose(enc(x, rope=rope), enc(x))


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    enc = Encoder(lambda: EncoderLayer(DIM, HEADS, dropout=0.1, norm_first=False, activation=nn.ReLU), 2)
    dec = Decoder(lambda: DecoderLayer(DIM, HEADS, dropout=0.1, norm_first=False, activation=nn.ReLU), 2,
                  nn.LayerNorm(DIM), return_intermediate=True)
    src = torch.randn(B, 9, DIM, requires_grad=True)
    pos, query = torch.randn(B, 9, DIM), torch.randn(B, 4, DIM)
    kpm = padding([9, 5], 9)
    memory = enc(src, pos=pos, key_padding_mask=kpm)
    # A non-zero tgt: with DETR's zeros every value of the first self-attention is the same
    # bias, so its q/k projections get exactly zero gradient there, correctly.
    out = dec(torch.randn(B, 4, DIM), memory, query_pos=query, pos=pos, memory_key_padding_mask=kpm)
    out.square().mean().backward()
    named = [*enc.named_parameters(prefix="encoder"), *dec.named_parameters(prefix="decoder")]
    for name, p in [("src", src), *named]:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    "build, expectation",
    [
        (lambda: Encoder(lambda: EncoderLayer(DIM, HEADS), 2), does_not_raise()),
        (lambda: Encoder([EncoderLayer(DIM, HEADS)] * 2), does_not_raise()),
        (lambda: Encoder(EncoderLayer(DIM, HEADS), 2), pytest.raises(ValueError, match="single EncoderLayer")),
        (lambda: Encoder(lambda: EncoderLayer(DIM, HEADS)), pytest.raises(ValueError, match="needs num_layers")),
        (lambda: Decoder([DecoderLayer(DIM, HEADS)], 2), pytest.raises(ValueError, match="num_layers=2 but 1")),
        (lambda: Decoder([]), pytest.raises(ValueError, match="at least one")),
        (lambda: EncoderLayer(DIM, 5), pytest.raises(ValueError, match="multiple of heads")),
        (lambda: DecoderLayer(DIM, HEADS, mlp_ratio=0.0), pytest.raises(ValueError, match="mlp_ratio")),
    ],
)
def test_construction_validation(build, expectation):
    with expectation:
        build()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:# The axis name")
def test_encoder_layer_onnx_export_matches_eager_on_two_shapes(tmp_path):
    ort = pytest.importorskip("onnxruntime")

    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = EncoderLayer(DIM, HEADS, norm_first=False, activation=nn.ReLU)

        def forward(self, x, pos, mask):
            return self.layer(x, pos=pos, key_padding_mask=mask)

    def inputs(T, lengths):
        g = gen(T)
        return torch.randn(B, T, DIM, generator=g), torch.randn(B, T, DIM, generator=g), padding(lengths, T)

    model = perturb(Wrapped()).eval()
    T, batch = torch.export.Dim("T", min=2, max=1024), torch.export.Dim("batch", min=1, max=64)
    path = tmp_path / "encoder_layer.onnx"
    torch.onnx.export(
        model, inputs(10, [10, 0]), str(path), dynamo=True, input_names=["x", "pos", "mask"],
        dynamic_shapes={"x": {0: batch, 1: T}, "pos": {0: batch, 1: T}, "mask": {0: batch, 1: T}},
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for T_, lengths in ((10, [10, 0]), (49, [30, 49])):
        x, pos, mask = inputs(T_, lengths)
        (y,) = session.run(None, {"x": x.numpy(), "pos": pos.numpy(), "mask": mask.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(y), model(x, pos, mask), atol=1e-5, rtol=1e-4)
