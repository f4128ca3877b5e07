"""Load on ``/v1/perceive`` over Ray Serve: throughput, p50/p99 latency and errors of N
concurrent clients, dynamic batching against ``max_batch_size=1`` side by side in one run, and
what more clients than capacity get (503 with Retry-After, bounded latency).

    python benchmarks/serve_load.py [--clients 8] [--round-s 12] [--rounds 4] [--overload-clients 64]

One Ray (this machine's CPUs) holds two copies of the service (face + detect), the same
config except each stage's ``max_batch_size``: ``batched`` (8, 20 ms wait) at /batched and
``unbatched`` (1) at /unbatched, every stage replica at half a CPU so both fit at once. Rounds
alternate A, B, A, B (only the round's service is loaded, the other idles), so drift on a
shared machine lands on both sides; the table gives each side's median over its rounds and
the spread (min..max). Each round is a second process on loopback (``--client``) holding N
clients for ``--round-s`` seconds (at most 60), each client posting a real photo
($SENSORIUM_DATA/photos, bus.jpg and zidane.jpg alternating) and waiting for the answer before
its next. The overload round posts with ``--overload-clients`` against the batched service
and counts 503s, their Retry-After and the latency of those answered.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: two services, the same but for batching
SERVICES = {"batched": {"max_batch_size": 8, "batch_wait_timeout_s": 0.02}, "unbatched": {"max_batch_size": 1, "batch_wait_timeout_s": 0.0}}
STAGES = ["detect", "face"]


def service_config(batching: dict) -> dict:
    """One application's config: both stages at half a CPU, queues sized so N=8 never fills them
    (8 ongoing + 8 queued per stage), the per-client rate limit out of the way (every client here
    is 127.0.0.1: one bucket)."""
    deployments = [{"name": s, "ray_actor_options": {"num_cpus": 0.5}, "max_ongoing_requests": 8, "max_queued_requests": 8} for s in STAGES]
    return {"args": {"stages": STAGES, "options": {"face": {"recognizer": "dlib"}}, "batching": {s: batching for s in STAGES},
                     "service": {"rate_limit_per_minute": 1e7, "rate_limit_burst": 1000000}}, "deployments": deployments}


def start(port: int) -> None:
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    from ray import serve

    from sensorium.deploy.application import build_from_config
    from sensorium.pipeline.cluster import init_ray
    from sensorium.pipeline.serve.config import parse_serve_config

    init_ray(log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    for name, batching in SERVICES.items():
        app = parse_serve_config({"applications": [{"name": name, "route_prefix": f"/{name}", **service_config(batching)}]}).app
        serve.run(build_from_config(app), name=name, route_prefix=f"/{name}")


async def _client(url: str, bodies: list[bytes], until: float, out: dict) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=120) as http:
        i = 0
        while time.monotonic() < until:
            t = time.perf_counter()
            r = await http.post(url, content=bodies[i % len(bodies)], headers={"content-type": "application/json"})
            dt = time.perf_counter() - t
            i += 1
            if r.status_code == 200:
                out["latency"].append(dt)
            elif r.status_code == 503:
                out["503"] += 1
                out["retry_after_ok"] &= r.headers.get("retry-after", "").isdigit()
                out["latency_503"].append(dt)
            else:
                out["other"][str(r.status_code)] = out["other"].get(str(r.status_code), 0) + 1


def client_main(url: str, clients: int, seconds: float) -> None:
    """The second process: N clients for ``seconds``; prints one JSON line of what they got."""
    photos = Path(os.environ.get("SENSORIUM_DATA", "../shared/data")) / "photos"
    bodies = [json.dumps({"image": base64.b64encode((photos / n).read_bytes()).decode(), "stages": STAGES}).encode() for n in ("bus.jpg", "zidane.jpg")]
    out = {"latency": [], "latency_503": [], "503": 0, "other": {}, "retry_after_ok": True}
    start = time.monotonic()
    until = start + min(seconds, 60.0)

    async def run() -> None:
        await asyncio.gather(*(_client(url, bodies[i % 2:] + bodies[:i % 2], until, out) for i in range(clients)))

    asyncio.run(run())
    out["wall_s"] = time.monotonic() - start
    print(json.dumps(out))


def load_round(url: str, clients: int, seconds: float) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--client", url, "--clients", str(clients), "--round-s", str(seconds)],
                          capture_output=True, text=True, timeout=seconds + 180)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    lat = sorted(out["latency"])
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {"ok": len(lat), "rps": len(lat) / out["wall_s"], "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "503": out["503"],
            "other": out["other"], "retry_after_ok": out["retry_after_ok"],
            "p99_503_ms": (max(out["latency_503"]) * 1000 if out["latency_503"] else None)}


def batch_sizes(url: str) -> dict:
    import httpx

    text = httpx.get(url + "/metrics", timeout=30).text
    vals = {}
    for line in text.splitlines():
        for kind in ("sum", "count"):
            for s in STAGES:
                if line.startswith(f'sensorium_stage_batch_size_{kind}{{stage="{s}"}}'):
                    vals[(s, kind)] = float(line.split()[-1])
    return {s: vals.get((s, "sum"), 0) / max(vals.get((s, "count"), 0), 1) for s in STAGES}


def _spread(rounds: list[dict], key: str) -> str:
    v = [r[key] for r in rounds]
    return f"{statistics.median(v):.1f} ({min(v):.1f}..{max(v):.1f})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--round-s", type=float, default=12.0)
    p.add_argument("--rounds", type=int, default=4, help="ABAB...: rounds in all, half per service")
    p.add_argument("--overload-clients", type=int, default=64)
    p.add_argument("--port", type=int, default=18765)
    p.add_argument("--client", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.client:
        client_main(a.client, a.clients, a.round_s)
        return
    logging.basicConfig(level=logging.WARNING)
    t0 = time.monotonic()
    start(a.port)
    base = f"http://127.0.0.1:{a.port}"
    print(f"services up in {time.monotonic() - t0:.0f} s; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", flush=True)
    for name in SERVICES:  # warm-up: every model loaded and touched once, outside the measurement
        load_round(f"{base}/{name}/v1/perceive", 2, 4)
    results: dict[str, list[dict]] = {name: [] for name in SERVICES}
    order = [list(SERVICES)[i % 2] for i in range(a.rounds)]
    for name in order:
        r = load_round(f"{base}/{name}/v1/perceive", a.clients, a.round_s)
        results[name].append(r)
        print(f"  {name:9s} {r}", flush=True)
    print(f"\n{a.clients} clients, {a.round_s:.0f} s rounds, {order}: median (min..max) over rounds")
    print("| service | requests/s | p50 ms | p99 ms | 503 | other errors | mean batch (detect, face) |")
    print("|---|---|---|---|---|---|---|")
    for name, rounds in results.items():
        sizes = batch_sizes(f"{base}/{name}")
        print(f"| {name} | {_spread(rounds, 'rps')} | {_spread(rounds, 'p50_ms')} | {_spread(rounds, 'p99_ms')} | "
              f"{sum(r['503'] for r in rounds)} | {sum(sum(r['other'].values()) for r in rounds)} | {sizes['detect']:.2f}, {sizes['face']:.2f} |")
    gain = statistics.median(r["rps"] for r in results["batched"]) / statistics.median(r["rps"] for r in results["unbatched"])
    print(f"dynamic batching: {gain:.2f}x the throughput of max_batch_size=1")
    over = load_round(f"{base}/batched/v1/perceive", a.overload_clients, a.round_s)
    print(f"\noverload, {a.overload_clients} clients against queues of 8+8 per stage: {over['ok']} answered "
          f"({over['rps']:.1f}/s, p50 {over['p50_ms']:.0f} ms, p99 {over['p99_ms']:.0f} ms), {over['503']} x 503 "
          f"(all with Retry-After: {over['retry_after_ok']}; slowest 503 {over['p99_503_ms'] or 0:.0f} ms), other errors {over['other']}")
    from ray import serve

    serve.shutdown()


if __name__ == "__main__":
    main()
