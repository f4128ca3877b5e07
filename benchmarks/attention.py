"""Attention benchmark: fused SDPA against naive softmax(QK^T)V, time and extra peak memory.

    python benchmarks/attention.py [--lengths 256 512 ...] [--threads N]

Self-attention, B=1, H=8, D=64, float32. For each length L it prints the time per call and
the *extra* peak memory of one call (memory beyond the inputs), with fused/naive ratios.

Time on CPU: one subprocess per L runs both methods round-robin after a warm-up (20 rounds up
to L=1024, 4 at L=8192), so load from other processes hits both alike; ratios are of minima.
Memory on CPU: each (method, L) runs in a fresh subprocess, which resets its peak RSS
(``/proc/self/clear_refs``, Linux >= 4.0) after the inputs exist and a small warm-up call has
loaded the kernels and thread pool, then reads ``VmHWM`` after one full-size call; without
clear_refs it falls back to ``ru_maxrss`` against the RSS before the call. On CUDA it uses
``torch.cuda.max_memory_allocated`` and ``triton.testing.do_bench``, and also prints the
Triton kernel's TFLOP/s beside SDPA's (4 * B * H * L^2 * D flops, float16 and float32).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

B, H, D = 1, 8, 64
LENGTHS = (256, 512, 1024, 2048, 4096, 8192)
GOAL_MEMORY = 0.02  # fused extra memory <= 2% of naive's at the longest length
GOAL_TIME = 0.4  # fused time <= 0.4x naive's at L >= 2048
MiB = 2**20


def naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The textbook product, scale folded into q so it costs no extra pass over the (L, L) scores."""
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)  # (B, H, L, L)
    return torch.softmax(scores, dim=-1) @ v


def fused(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v)


METHODS: dict[str, Callable[..., torch.Tensor]] = {"fused": fused, "naive": naive}


def repeats_for(L: int) -> int:
    return 20 if L <= 1024 else 10 if L <= 2048 else 8 if L <= 4096 else 4


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def inputs(L: int, device: str, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
    g = torch.Generator(device=device).manual_seed(L)
    return tuple(torch.randn(B, H, L, D, generator=g, device=device, dtype=dtype) for _ in range(3))


# --- CPU: one subprocess per measurement ---------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := current RSS
        return True
    except OSError:
        return False


def memory_worker(method: str, L: int) -> dict[str, object]:
    """Runs in a fresh subprocess: extra peak bytes of one full-size call."""
    fn = METHODS[method]
    fn(*inputs(128, "cpu"))  # warm-up: kernels, thread pool, allocator, at a size that leaves nothing large
    q, k, v = inputs(L, "cpu")
    reset = _reset_peak_rss()
    base_kib = _status_kib("VmRSS")
    out = fn(q, k, v)
    peak_kib = _status_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del out
    return {"extra_bytes": max(peak_kib - base_kib, 0) * 1024,
            "peak_source": "VmHWM after clear_refs" if reset else "ru_maxrss"}


def time_worker(L: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each method, round-robin so load from other processes hits both alike."""
    q, k, v = inputs(L, "cpu")
    for fn in METHODS.values():
        fn(q, k, v)  # warm-up
    times: dict[str, list[float]] = {m: [] for m in METHODS}
    for _ in range(repeats):
        for name, fn in METHODS.items():
            start = time.perf_counter()
            fn(q, k, v)
            times[name].append(time.perf_counter() - start)
    return times


def _subprocess(args: list[str], threads: int | None) -> dict:
    cmd = [sys.executable, __file__, "--worker", *args] + (["--threads", str(threads)] if threads else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_cpu(L: int, threads: int | None) -> dict[str, dict[str, object]]:
    times = _subprocess(["time", str(L), str(repeats_for(L))], threads)
    return {m: {**_subprocess(["memory", m, str(L)], threads), "times_s": times[m]} for m in METHODS}


# --- CUDA: in-process, allocator statistics ------------------------------------------------------


def measure_cuda(L: int) -> dict[str, dict[str, object]]:
    return {m: _measure_cuda(m, L) for m in METHODS}


def _measure_cuda(method: str, L: int) -> dict[str, object]:
    fn = METHODS[method]
    q, k, v = inputs(L, "cuda")
    fn(q, k, v)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = fn(q, k, v)
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    del out
    import triton.testing

    ms = triton.testing.do_bench(lambda: fn(q, k, v), return_mode="all")
    return {"extra_bytes": extra, "times_s": [t / 1000 for t in ms], "peak_source": "cuda max_memory_allocated"}


def tflops_rows(lengths: tuple[int, ...]) -> list[str]:
    """Triton kernel vs SDPA throughput on CUDA, float16 and float32 (no masks, non-causal)."""
    import triton.testing

    from sensorium.models.layers import triton_attention

    rows = ["| L | dtype | SDPA TFLOP/s | Triton TFLOP/s | Triton / SDPA |", "|---:|---|---:|---:|---:|"]
    for dtype in (torch.float16, torch.float32):
        for L in lengths:
            q, k, v = inputs(L, "cuda", dtype)
            flops = 4 * B * H * L * L * D
            sdpa_ms = triton.testing.do_bench(lambda: F.scaled_dot_product_attention(q, k, v))
            tri_ms = triton.testing.do_bench(lambda: triton_attention.flash_attention(q, k, v))
            sdpa, tri = flops / sdpa_ms / 1e9, flops / tri_ms / 1e9
            rows.append(f"| {L} | {str(dtype).removeprefix('torch.')} | {sdpa:.1f} | {tri:.1f} | {tri / sdpa:.2f} |")
    return rows


# --- report ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)  # memory METHOD L | time L REPEATS
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        kind, *rest = args.worker
        result = memory_worker(rest[0], int(rest[1])) if kind == "memory" else time_worker(int(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return

    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name() if cuda else f"{cpu_model()}, {os.cpu_count()} cores"
    print(f"# attention benchmark, {datetime.date.today()}")
    print(f"device: {device}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"Python {platform.python_version()}")
    print(f"self-attention B={B} H={H} D={D} float32; fused = F.scaled_dot_product_attention, "
          "naive = softmax(q k^T / sqrt(D)) v")
    print()
    print("| L | fused ms (median / min) | naive ms (median / min) | time fused / naive "
          "| fused extra MiB | naive extra MiB | memory fused / naive |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    results = {}
    for L in args.lengths:
        row = measure_cuda(L) if cuda else measure_cpu(L, args.threads)
        results[L] = row
        med = {m: statistics.median(r["times_s"]) * 1000 for m, r in row.items()}
        low = {m: min(r["times_s"]) * 1000 for m, r in row.items()}
        mem = {m: r["extra_bytes"] / MiB for m, r in row.items()}
        print(f"| {L} | {med['fused']:.2f} / {low['fused']:.2f} | {med['naive']:.2f} / {low['naive']:.2f} "
              f"| {low['fused'] / low['naive']:.2f}x | {mem['fused']:.1f} | {mem['naive']:.1f} "
              f"| {100 * mem['fused'] / max(mem['naive'], 1e-9):.2f}% |", flush=True)
    print(f"\npeak memory from: {results[args.lengths[0]]['fused']['peak_source']}; time ratio of minima")

    longest = max(args.lengths)
    r = results[longest]
    mem_ratio = r["fused"]["extra_bytes"] / max(r["naive"]["extra_bytes"], 1)
    print(f"goal: fused extra memory <= {GOAL_MEMORY:.0%} of naive at L={longest}: {mem_ratio:.2%} "
          f"-> {'met' if mem_ratio <= GOAL_MEMORY else 'NOT met'}")
    for L in (L for L in args.lengths if L >= 2048):
        ratio = min(results[L]["fused"]["times_s"]) / min(results[L]["naive"]["times_s"])
        print(f"goal: fused time <= {GOAL_TIME}x naive at L={L}: {ratio:.2f}x "
              f"-> {'met' if ratio <= GOAL_TIME else 'NOT met'}")

    if cuda:
        print("\nTriton FlashAttention kernel vs SDPA (4*B*H*L^2*D flops):\n")
        print("\n".join(tflops_rows(tuple(args.lengths))))
    else:
        print("\nTriton kernel TFLOP/s: needs a CUDA device, not measured here.")


if __name__ == "__main__":
    main()
