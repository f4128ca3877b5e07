"""A real HTTP server (uvicorn on a free loopback port, in a thread) around the REST app."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import pytest

from sensorium.deploy.rest.app import create_app
from sensorium.deploy.settings import ServiceSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: the ``sensorium`` console script, run by this interpreter
CLI = [sys.executable, "-c", "from sensorium.deploy.cli import app; app()"]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float, output=None) -> httpx.Response:
    """The first 200 of ``url``/healthz from the server ``proc`` starts; fails with its output
    (``output()``, else its stdout pipe) if it exits first or is not healthy within timeout (a
    bound, not a speed check)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            r = httpx.get(url + "/healthz", timeout=5)
            if r.status_code == 200:
                return r
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        if proc.poll() is not None:
            text = output() if output else proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the server exited with {proc.returncode}: {text[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{url}/healthz not healthy after {timeout:.0f} s ({last}): {output()[-4000:] if output else ''}")
        time.sleep(0.5)


@contextmanager
def running(settings: ServiceSettings, agent=None):
    """Yield the base URL of a uvicorn server serving ``create_app(settings)``."""
    import uvicorn

    port = free_port()
    settings = ServiceSettings(**{**settings.__dict__, "port": port})
    server = uvicorn.Server(uvicorn.Config(create_app(settings, agent), host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code in (200, 401):
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise RuntimeError("server did not start")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def service(local_agent):
    """The service with a token, a small body limit and a tight rate limit for the tests."""
    settings = ServiceSettings(token="s3cret-token", max_body_bytes=4 * 1024 * 1024, max_image_pixels=20_000_000,
                               rate_limit_per_minute=6000, rate_limit_burst=1000)
    with running(settings, local_agent) as url:
        yield url
