"""``sensorium serve --config`` in Ray Serve mode, for real: its own process (and session), its
own local Ray, Serve's HTTP proxy on a free loopback port (from the config file), the local
backend grounding a real Android screenshot, /v1/perceive over the detect deployment, and a
SIGTERM that lets the request in flight finish and leaves no Ray process behind."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from .conftest import CLI, free_port, wait_healthy


def node_bounds(hierarchy: dict, text: str) -> list[float]:
    """Bounds (x1, y1, x2, y2, in the hierarchy's 1440x2560 screen space) of the clickable node with ``text``."""
    stack = [hierarchy["activity"]["root"]]
    while stack:
        n = stack.pop()
        if n.get("clickable") and n.get("text") == text:
            return n["bounds"]
        stack.extend(c for c in n.get("children") or [] if isinstance(c, dict))
    raise LookupError(f"no clickable node {text!r}")


def session_processes(sid: int) -> dict[int, str]:
    """pid → command line of every live process in session ``sid`` (Linux /proc)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
            if int(fields[3]) == sid and fields[0] != "Z":
                out[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
        except (OSError, ValueError):
            continue  # gone while we looked
    return out


def remaining(sid: int, timeout: float) -> dict[int, str]:
    """Processes still in the session after waiting up to timeout for them to exit."""
    deadline = time.monotonic() + timeout
    while (left := session_processes(sid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


#: seconds detect waits for its batch to fill in this test's config
DRAIN_WAIT = 6.0


@pytest.mark.slow
def test_serve_on_ray_serve_over_real_http(data_dir, tmp_path):
    # a real Android screenshot (1080x1920) whose view hierarchy says where "Demo Mode" is
    shot = (data_dir / "gui" / "33685.jpg").read_bytes()
    x1, y1, x2, y2 = [v * 1080 / 1440 for v in node_bounds(json.loads((data_dir / "gui" / "33685.json").read_text()), "Demo Mode")]

    port, log, config = free_port(), tmp_path / "serve.log", tmp_path / "serve.yaml"
    # a lone request waits DRAIN_WAIT in detect's batch queue: long enough to be in flight when SIGTERM comes
    config.write_text(yaml.safe_dump({"http_options": {"host": "127.0.0.1", "port": port}, "applications": [{
        "import_path": "sensorium.deploy.application:build",
        "args": {"stages": ["detect"], "batching": {"detect": {"max_batch_size": 8, "batch_wait_timeout_s": DRAIN_WAIT}}}}]}))
    env = {k: v for k, v in os.environ.items() if k not in ("SENSORIUM_TOKEN", "SENSORIUM_TOKEN_FILE", "RAY_ADDRESS")}
    with open(log, "w") as out:
        proc = subprocess.Popen(CLI + ["serve", "--config", str(config)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own session: every Ray process it starts is found by sid
    url = f"http://127.0.0.1:{port}"
    try:
        health = wait_healthy(url, proc, timeout=540, output=log.read_text)  # Ray's start on a loaded 2-core machine
        assert health.json()["backend"] == "local"
        r = httpx.post(url + "/v1/agent/act", timeout=180, json={"screenshot": base64.b64encode(shot).decode(), "instruction": "click Demo Mode"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["backend"] == "local" and body["screen"]["width"] == 1080
        assert r.headers.get_list("x-request-id") == [body["request_id"]]  # Serve's proxy and the app agree, once
        [click] = body["actions"]
        assert click["type"] == "click" and x1 <= click["x"] <= x2 and y1 <= click["y"] <= y2, body

        for payload, status, code in [({"screenshot": base64.b64encode(b"not an image").decode(), "instruction": "click OK"}, 400, "bad_image"),
                                      ({"screenshot": base64.b64encode(shot).decode()}, 422, "invalid_request")]:
            bad = httpx.post(url + "/v1/agent/act", json=payload, timeout=60)
            assert bad.status_code == status and bad.headers["content-type"] == "application/json", bad.text
            assert bad.json()["error"]["code"] == code and bad.json()["error"]["message"]
        assert httpx.get(url + "/healthz", timeout=30).status_code == 200  # still serving
        running = session_processes(proc.pid).values()
        assert any("raylet" in c for c in running) and any("ServeReplica" in c for c in running), running  # what must go

        in_flight: dict = {}
        photo = base64.b64encode((data_dir / "photos" / "bus.jpg").read_bytes()).decode()
        sender = threading.Thread(target=lambda: in_flight.update(r=httpx.post(url + "/v1/perceive", json={"image": photo, "stages": ["detect"]}, timeout=120)))
        sender.start()
        time.sleep(DRAIN_WAIT / 3)  # the request sits in detect's batch queue now
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        left = remaining(proc.pid, timeout=60)
        for pid in left:  # ours (same session): do not let a failure leak them into later tests
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    sender.join(timeout=60)
    assert in_flight["r"].status_code == 200, in_flight["r"].text  # drained, not dropped
    assert in_flight["r"].json()["errors"] == {} and in_flight["r"].json()["results"]["detect"]["kind"] == "detections"
    assert rc == 0, log.read_text()[-4000:]
    assert not left, f"processes outlived `sensorium serve`: {left}"
