"""GUI agent benchmark: ``/v1/agent/act`` over real HTTP with the local backend.

    python benchmarks/gui_agent.py [--requests 30] [--clients 8]

Serves the REST app with uvicorn on loopback, renders the test form page at 1920x1080 in
Debian's chromium, and measures p50/p95 latency of one request at a time, then requests per
second with 8 concurrent clients (each with its own connection), side by side with the
single-client rate. Last, the task success rate over the end-to-end test pages
(tests/deploy/test_browser.py's tasks), executed through Playwright.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import datetime
import os
import statistics
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
from tests.deploy.conftest import running  # noqa: E402
from tests.deploy.test_browser import ARGS, CHROMIUM, PAGES, TASKS, run_task  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
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
            lat = []
            for _ in range(args.requests):
                t = time.perf_counter()
                r = c.post(url + "/v1/agent/act", json=body, headers=headers)
                lat.append((time.perf_counter() - t) * 1e3)
                assert r.status_code == 200, r.text
        q = statistics.quantiles(lat, n=20)
        print(f"\n1920x1080 screenshot, 'click Submit', one client, {args.requests} requests")
        print(f"| p50 ms | p95 ms | min ms | req/s |\n|---:|---:|---:|---:|\n| {statistics.median(lat):.0f} | {q[18]:.0f} | {min(lat):.0f} | {1e3 / statistics.mean(lat):.2f} |")

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
