"""GUI agent benchmark: ``/v1/agent/act`` over real HTTP with the local backend.

    python benchmarks/gui_agent.py [--requests 30] [--clients 8]
    python benchmarks/gui_agent.py --abab /path/to/base/checkout-parent [--rounds 6]

Serves the REST app with uvicorn on loopback, renders the test form page at 1920x1080 in
Debian's chromium, and measures p50/p95 latency of one request at a time, then requests per
second with 8 concurrent clients (each with its own connection), side by side with the
single-client rate. Last, the task success rate over the end-to-end test pages
(tests/e2e/test_browser.py's tasks), executed through Playwright. With ``--abab SRC`` it
compares instead one request's latency of the local backend in two processes per round, the
code at SRC (a folder holding a ``sensorium`` package, e.g. ``git archive`` of the base
commit) against this checkout, ABAB, medians with spread and the per-round ratio.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import datetime
import os
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from detect import cpu_model  # noqa: E402

from sensorium.deploy.settings import ServiceSettings  # noqa: E402
from interleave import fmt, median_spread, ratio, rounds  # noqa: E402
from tests.conftest import CHROMIUM  # noqa: E402
from tests.conftest import CHROMIUM_ARGS as ARGS  # noqa: E402
from tests.deploy.conftest import running  # noqa: E402
from tests.e2e.test_browser import PAGES, TASKS, run_task  # noqa: E402

PARTS = ("det", "rec", "small_text", "elements", "icons")


def screenshot_1920() -> bytes:
    """The test form page at 1920x1080 in headless chromium, as PNG bytes."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto((PAGES / "form.html").as_uri())
        png = page.screenshot()
        browser.close()
    return png


def _child(png_path: str, n: int) -> None:
    """In a fresh process: build the agent, warm it up, print one JSON line: n latencies (ms),
    each request's breakdown (ms by part) and the answers given."""
    import cv2

    from sensorium.pipeline.agent.build import build_gui_agent

    image = cv2.cvtColor(cv2.imread(png_path), cv2.COLOR_BGR2RGB)
    agent = build_gui_agent()
    agent.act(image, "click Submit")
    lat, parts, answers = [], [], set()
    for _ in range(n):
        t = time.perf_counter()
        answers.add(str(agent.act(image, "click Submit")))
        lat.append((time.perf_counter() - t) * 1e3)
        parts.append(dict(getattr(agent.backend, "timings", {})))
    print(json.dumps({"lat": lat, "parts": parts, "answers": sorted(answers)}))


def abab(base_src: str, n_rounds: int, per_round: int) -> None:
    """Base (code at base_src) against head (this checkout): one process per side per round;
    the latency, where it went (per part, median of each round's median) and the answers."""
    png = Path(os.environ.get("TMPDIR", "/tmp")) / "gui_agent_1920.png"
    png.write_bytes(screenshot_1920())
    seen: dict[str, dict[str, list[float]]] = {"base": {}, "head": {}}
    answers: dict[str, set[str]] = {"base": set(), "head": set()}

    def side(name: str, src: str | None):
        env = {**os.environ, "PYTHONPATH": src} if src else {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

        def measure() -> float:
            out = subprocess.run([sys.executable, __file__, "--child", str(png), str(per_round)], env=env, cwd="/",
                                 capture_output=True, text=True, check=True)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            for k in PARTS:
                if v := [p[k] for p in got["parts"] if k in p]:
                    seen[name].setdefault(k, []).append(statistics.median(v))
            answers[name].update(got["answers"])
            return statistics.median(got["lat"])
        return measure

    res = rounds({"base": side("base", base_src), "head": side("head", None)}, n_rounds)
    print(f"\n1920x1080 'click Submit', one request in process, median of {per_round} per round, {n_rounds} rounds ABAB, "
          f"load {os.getloadavg()[0]:.1f} at the end")
    print("| step | base ms | head ms |\n|---|---:|---:|")
    print(f"| whole request | {fmt(median_spread(res['base']), 0)} | {fmt(median_spread(res['head']), 0)} |")
    for k in PARTS:
        cells = [fmt(median_spread(seen[s][k]), 0) if seen[s].get(k) else "-" for s in ("base", "head")]
        print(f"| {k} | {cells[0]} | {cells[1]} |")
    print(f"| head/base per round | {fmt(ratio(res['head'], res['base']))} | |")
    for name, a in answers.items():
        print(f"- {name} answers: {sorted(a)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--abab", metavar="SRC", help="compare one request's latency against the code at SRC")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args.child[0], int(args.child[1]))
    if args.abab:
        return abab(args.abab, args.rounds, max(3, args.requests // args.rounds))
    from playwright.sync_api import sync_playwright

    from sensorium.pipeline.agent.build import build_gui_agent

    agent = build_gui_agent()
    settings = ServiceSettings(token="s3cret-token", rate_limit_per_minute=1e6, rate_limit_burst=100000)
    print(f"# gui agent benchmark, {datetime.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs")
    with sync_playwright() as p, running(settings, agent) as url:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto((PAGES / "form.html").as_uri())
        shot = base64.b64encode(page.screenshot()).decode()
        body = {"screenshot": shot, "instruction": "click Submit"}
        headers = {"Authorization": "Bearer s3cret-token"}
        with httpx.Client(timeout=120) as c:
            assert c.post(url + "/v1/agent/act", json=body, headers=headers).status_code == 200  # warm-up
            lat, parts = [], []
            for _ in range(args.requests):
                t = time.perf_counter()
                r = c.post(url + "/v1/agent/act", json=body, headers=headers)
                lat.append((time.perf_counter() - t) * 1e3)
                assert r.status_code == 200, r.text
                parts.append(dict(getattr(agent.backend, "timings", {})))  # the app runs this agent in-process
        q = statistics.quantiles(lat, n=20)
        print(f"\n1920x1080 screenshot, 'click Submit', one client, {args.requests} requests")
        print(f"| p50 ms | p95 ms | min ms | req/s |\n|---:|---:|---:|---:|\n| {statistics.median(lat):.0f} | {q[18]:.0f} | {min(lat):.0f} | {1e3 / statistics.mean(lat):.2f} |")
        print("\nwhere a request's time goes (ms, median over the requests that ran the part)")
        print("| " + " | ".join(("HTTP + decode + rest",) + PARTS) + " |\n|" + "---:|" * (len(PARTS) + 1))
        rest = [lt - p.get("total", 0.0) for lt, p in zip(lat, parts)]
        cells = [f"{statistics.median(rest):.0f}"] + [
            f"{statistics.median(v):.0f} ({len(v)})" if (v := [p[k] for p in parts if k in p]) else "-" for k in PARTS]
        print("| " + " | ".join(cells) + " |")

        def worker(n: int) -> list[float]:
            out = []
            with httpx.Client(timeout=300) as c:
                for _ in range(n):
                    t = time.perf_counter()
                    assert c.post(url + "/v1/agent/act", json=body, headers=headers).status_code == 200
                    out.append(time.perf_counter() - t)
            return out

        per = max(1, args.requests // args.clients)
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(args.clients) as ex:
            all_lat = [x for f in [ex.submit(worker, per) for _ in range(args.clients)] for x in f.result()]
        wall = time.perf_counter() - t0
        print(f"\n{args.clients} concurrent clients, {per} requests each")
        print(f"| req/s | p50 ms | p95 ms | req/s vs one client |\n|---:|---:|---:|---:|\n| {len(all_lat) / wall:.2f} | "
              f"{statistics.median(all_lat) * 1e3:.0f} | {statistics.quantiles(all_lat, n=20)[18] * 1e3:.0f} | "
              f"{(len(all_lat) / wall) / (1e3 / statistics.mean(lat)):.2f}x |")
        done = []
        for page_name, scale, instruction, js in TASKS:
            ok, steps = run_task(browser, url, page_name, scale, instruction, js)
            done.append(ok)
            print(f"- {page_name} (DPR {scale}): {instruction!r}: {'done' if ok else 'FAILED'} in {steps} step(s)")
        print(f"\ntask success rate: {sum(done)}/{len(done)} = {np.mean(done):.0%}")
        browser.close()


if __name__ == "__main__":
    main()
