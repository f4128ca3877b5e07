"""A real HTTP server (uvicorn on a free loopback port, in a thread) around the REST app."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import base64
import struct
import zlib

import cv2
import httpx
import numpy as np
import pytest

from sensorium.deploy.rest.app import create_app
from sensorium.deploy.settings import ServiceSettings
from sensorium.pipeline.serve.streams.policy import StreamPolicy


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
def running(settings: ServiceSettings, agent=None, **app_kwargs):
    """Yield the base URL of a uvicorn server serving ``create_app(settings, agent, **app_kwargs)``."""
    import uvicorn

    port = free_port()
    settings = ServiceSettings(**{**settings.__dict__, "port": port})
    server = uvicorn.Server(uvicorn.Config(create_app(settings, agent, **app_kwargs), host="127.0.0.1", port=port, log_level="warning", access_log=False))
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
    """The service with a token, a small body limit and a tight rate limit for the tests; its
    stream policy opens nothing (a fuzzed body must not start a real stream)."""
    settings = ServiceSettings(token="s3cret-token", max_body_bytes=4 * 1024 * 1024, max_image_pixels=20_000_000,
                               rate_limit_per_minute=6000, rate_limit_burst=1000, streams=StreamPolicy(schemes=()))
    with running(settings, local_agent) as url:
        yield url


# --- inputs ------------------------------------------------------------------------------------
#: the bearer token of the ``service`` fixture
AUTH = {"Authorization": "Bearer s3cret-token"}


def png(img: np.ndarray) -> bytes:
    """PNG bytes of an RGB (or BGR: the tests do not care) uint8 image."""
    return cv2.imencode(".png", img)[1].tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def screen_with_button(text="Submit", size=(480, 640)):
    """A light screen with one labelled button whose centre is at (280, 225) pixels."""
    img = np.full((*size, 3), 250, np.uint8)
    cv2.rectangle(img, (200, 200), (360, 250), (60, 60, 60), 2)
    cv2.putText(img, text, (222, 235), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2, cv2.LINE_AA)
    return img


def png_header(w: int, h: int) -> bytes:
    """A PNG whose header claims w x h (no pixel data worth decoding)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
