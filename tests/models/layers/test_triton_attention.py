"""The Triton FlashAttention kernel against float64 attention: on CPU through Triton's interpreter, on CUDA when present.

Triton's interpreter only works when ``TRITON_INTERPRET=1`` is set before ``triton`` itself is
imported (its standard library, ``tl.zeros`` / ``tl.sum`` ..., is decorated at that import),
and elsewhere in a test session triton may already be loaded, compiled. So the kernel runs in
one fresh subprocess (this file run as a script), which saves its outputs; the tests here
rebuild the same inputs and compare with the float64 reference. The CUDA tests at the end
run the compiled kernel in-process.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton")

from sensorium.models.layers import attention as attn_mod  # noqa: E402

MODULE = "sensorium.models.layers.triton_attention"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}


def reference(q, k, v, *, key_padding_mask=None, causal=False, scale=None):
    """softmax(q k^T * scale) v in float64; rows with no allowed key -> 0."""
    q, k, v = q.double(), k.double(), v.double()
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale  # (B, H, T, S)
    blocked = torch.zeros(scores.shape, dtype=torch.bool, device=q.device)
    if key_padding_mask is not None:
        blocked |= key_padding_mask[:, None, None, :]
    if causal:
        blocked |= torch.ones(scores.shape[-2:], dtype=torch.bool, device=q.device).triu(1)
    return torch.softmax(scores.masked_fill(blocked, float("-inf")), dim=-1).nan_to_num(0.0) @ v


def padding(lengths, S, device="cpu"):
    return torch.arange(S, device=device)[None, :] >= torch.tensor(lengths, device=device)[:, None]  # (B, S)


@dataclass(frozen=True)
class Case:
    """One kernel call; ``inputs()`` is deterministic, so parent and subprocess build the same tensors."""

    B: int
    H: int
    T: int
    S: int
    D: int
    lengths: tuple[int, ...] | None = None  # valid keys per batch item; None = no padding mask
    causal: bool = False
    dtype: str = "float32"
    scale: float | None = None
    strided: bool = False  # (B, T, H, D) storage seen as (B, H, T, D), as MultiHeadAttention makes it
    v_len: int | None = None  # a wrong value length, for validation

    @property
    def id(self) -> str:
        mask = f"-pad{list(self.lengths)}" if self.lengths else ""
        extra = "-causal" * self.causal + "-strided" * self.strided + (f"-scale{self.scale}" if self.scale else "")
        return f"B{self.B}H{self.H}T{self.T}S{self.S}D{self.D}-{self.dtype}{mask}{extra}"

    def inputs(self, device="cpu"):
        g = torch.Generator().manual_seed(self.T * 1000 + self.S * 10 + self.D)
        dtype = DTYPES[self.dtype]
        lens = (self.T, self.S, self.v_len or self.S)
        if self.strided:
            q, k, v = (torch.randn(self.B, L, self.H, self.D, generator=g).transpose(1, 2) for L in lens)
        else:
            q, k, v = (torch.randn(self.B, self.H, L, self.D, generator=g) for L in lens)
        q, k, v = (t.to(device=device, dtype=dtype) for t in (q, k, v))
        mask = padding(self.lengths, self.S, device) if self.lengths else None
        return q, k, v, {"key_padding_mask": mask, "causal": self.causal, "scale": self.scale}


# Under the interpreter the kernel uses 16 x 16 tiles, so these cross several query and key
# tiles and end on partial ones.
CASES = [
    Case(1, 2, 37, 53, 32),
    Case(2, 2, 37, 53, 32, lengths=(53, 20)),
    Case(2, 1, 37, 37, 32, causal=True),
    Case(2, 2, 37, 53, 32, lengths=(41, 3), causal=True),
    Case(2, 1, 53, 21, 32, lengths=(21, 17), causal=True),  # T > S: late queries see every key
    Case(2, 2, 19, 23, 32, lengths=(23, 0), causal=True),  # batch 1 fully padded: zeros
    Case(1, 2, 5, 7, 16),
    Case(1, 1, 17, 33, 64, lengths=(30,)),
    Case(1, 1, 19, 9, 128, causal=True),
    Case(1, 1, 1, 1, 32),
    Case(2, 3, 21, 29, 32, scale=0.3, strided=True),
    Case(2, 2, 37, 53, 64, lengths=(53, 30), dtype="float16"),
]
TOLERANCE = {"float32": 1e-5, "float16": 2e-3}

# Calls that must raise ValueError (expected message) or succeed (None).
INVALID = {
    "ok": (Case(1, 1, 5, 7, 32), None),
    "head_dim": (Case(1, 1, 5, 7, 48), "head_dim must be one of"),
    "float64": (Case(1, 1, 5, 7, 32, dtype="float64"), "float16, bfloat16, float32"),
    "bfloat16-under-interpreter": (Case(1, 1, 5, 7, 32, dtype="bfloat16"), "11584"),
    "value-length": (Case(1, 1, 5, 7, 32, v_len=6), r"k, v \(B, H, S, D\)"),
    "mask-shape": (Case(1, 1, 5, 7, 32, lengths=(7, 7)), r"\(1, 7\) bool"),
}


def _run_interpreted(out_path: str) -> None:
    """Subprocess side: run every case through the interpreted kernel and save what came out."""
    from sensorium.models.layers import triton_attention as ta

    assert ta.INTERPRETED, "TRITON_INTERPRET=1 must be set before triton is imported"
    results: dict[str, object] = {}
    for case in CASES:
        q, k, v, kw = case.inputs()
        results[case.id] = ta.flash_attention(q, k, v, **kw)
    for name, (case, _) in INVALID.items():
        q, k, v, kw = case.inputs()
        try:
            ta.flash_attention(q, k, v, **kw)
            results[name] = None
        except ValueError as e:
            results[name] = str(e)
    calls = []
    real = ta.flash_attention
    ta.flash_attention = lambda *a, **kw: calls.append(1) or real(*a, **kw)
    torch.manual_seed(0)
    m = attn_mod.MultiHeadAttention(64, 2).eval()
    x = torch.randn(2, 23, 64)
    mask = padding((23, 9), 23)
    with torch.no_grad():
        for causal in (False, True):
            attn_mod.set_attention_backend("sdpa")
            expected = m(x, key_padding_mask=mask, causal=causal)
            attn_mod.set_attention_backend("triton")
            out = m(x, key_padding_mask=mask, causal=causal)
            results[f"module-causal{causal}"] = (out, expected, len(calls))
    torch.save(results, out_path)


@pytest.fixture(scope="module")
def interpreted(tmp_path_factory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("triton") / "results.pt"
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    env.pop(attn_mod.ENV_BACKEND, None)
    proc = subprocess.run(
        [sys.executable, __file__, str(out)], env=env, capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[3],
    )
    if proc.returncode:
        pytest.fail(f"interpreted kernel run failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}")
    return torch.load(out)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_interpreted_kernel_matches_float64_reference(interpreted, case):
    q, k, v, kw = case.inputs()
    out = interpreted[case.id]
    assert out.shape == q.shape and out.dtype == q.dtype
    tol = TOLERANCE[case.dtype]
    torch.testing.assert_close(out.double(), reference(q, k, v, **kw), atol=tol, rtol=10 * tol)
    if case.lengths and 0 in case.lengths:
        assert (out[list(case.lengths).index(0)] == 0).all()


@pytest.mark.parametrize("name", list(INVALID))
def test_interpreted_kernel_validates_inputs(interpreted, name):
    expected = INVALID[name][1]
    if expected is None:
        assert interpreted[name] is None
    else:
        assert interpreted[name] is not None, "no ValueError raised"
        assert re.search(expected, interpreted[name]), interpreted[name]


@pytest.mark.parametrize("causal", [False, True])
def test_module_forced_to_triton_uses_the_kernel_and_matches_sdpa(interpreted, causal):
    out, expected, calls = interpreted[f"module-causal{causal}"]
    assert calls == 1 + causal  # one kernel call per forced forward, running count
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


# --- compiled, on CUDA -------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def compiled():
    import importlib

    module = importlib.import_module(MODULE)
    if module.INTERPRETED:
        pytest.skip("TRITON_INTERPRET is set for the whole session")
    return module


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-4), ("float16", 2e-3), ("bfloat16", 1.6e-2)])
@pytest.mark.parametrize("D", [16, 32, 64, 128])
@pytest.mark.parametrize("causal", [False, True])
def test_compiled_kernel_on_cuda(compiled, dtype, tol, D, causal):
    q, k, v, kw = Case(2, 3, 301, 517, D, lengths=(517, 200), causal=causal, dtype=dtype).inputs("cuda")
    out = compiled.flash_attention(q, k, v, **kw)
    torch.testing.assert_close(out.double(), reference(q, k, v, **kw), atol=tol, rtol=tol)


@pytest.mark.gpu
@cuda
def test_auto_backend_uses_the_kernel_on_cuda(compiled, monkeypatch):
    calls = []
    real = compiled.flash_attention
    monkeypatch.setattr(compiled, "flash_attention", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    monkeypatch.delenv(attn_mod.ENV_BACKEND, raising=False)
    m = attn_mod.MultiHeadAttention(128, 2).cuda().half().eval()
    x = torch.randn(2, 77, 128, device="cuda", dtype=torch.float16)
    with torch.no_grad():
        m(x)
    assert calls == [1]
    m(x.requires_grad_()).sum().backward()  # gradients go to SDPA, which has a backward
    assert calls == [1]


if __name__ == "__main__":
    _run_interpreted(sys.argv[1])
