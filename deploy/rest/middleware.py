"""What wraps every request: the body cap (before anything reads the body), the request id,
Prometheus metrics and the 500 for anything unexpected; and the per-client rate limiter the
routes consult."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from sensorium.deploy.rest.errors import error_body, internal_error, new_request_id

log = logging.getLogger(__name__)


class BodyLimit:
    """ASGI middleware: 413 for a body above ``limit`` bytes, by Content-Length or as it streams."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _send_json(send, 413, "body_too_large", f"request body of {int(length)} bytes is above the limit of {self.limit}")
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _send_json(send, 413, "body_too_large", f"request body is above the limit of {self.limit} bytes")


class _TooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(new_request_id(), code, message)).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Token bucket per client: ``rate`` requests per minute, bursts up to ``burst``."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate, self.burst = per_minute / 60.0, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 if allowed, else seconds until the next request would be."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate if self.rate > 0 else 60.0


class HttpMetrics:
    """Request counts by route and status, and handling time by route, in their own registry
    (two apps in one process, as in the tests, do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("sensorium_http_requests_total", "HTTP requests", ["path", "status"], registry=self.registry)
        self.latency = Histogram("sensorium_http_request_seconds", "Request handling time", ["path"], registry=self.registry,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16))


def install_observer(app: FastAPI, metrics: HttpMetrics, *, request_id_header: bool = True) -> None:
    """Give each request an id (the client's ``x-request-id`` or a new one), count and time it,
    and turn anything unexpected into a 500 whose id is in the log."""

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        request.state.request_id = request.headers.get("x-request-id") or new_request_id()
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # noqa: BLE001 - anything unexpected is a 5xx with its request id in the log
            log.exception("request %s %s failed", request.state.request_id, request.url.path)
            response = internal_error(request.state.request_id)
        path = request.scope.get("route").path if request.scope.get("route") is not None else "other"
        metrics.latency.labels(path).observe(time.perf_counter() - start)
        metrics.requests.labels(path, str(response.status_code)).inc()
        if request_id_header:
            response.headers["x-request-id"] = request.state.request_id
        return response
