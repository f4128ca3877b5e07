"""What wraps every request, outermost first: :class:`Observer` (request id, metrics, one log
line, the 500 for anything unexpected), :class:`BodyLimit` (413 before or while the body is
read), the bearer-token check (``auth.py``) and :class:`JsonGuard` (UTF-8 and nesting depth
checked before any parser sees the body). All are plain ASGI: nothing here reads a body the
route will not get, and an error they answer is the same envelope the routes answer."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import anyio.to_thread
import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sensorium.deploy.rest.errors import error_body
from sensorium.deploy.rest.logs import log_request, request_id_from

log = logging.getLogger(__name__)


def scope_state(scope: Scope) -> dict[str, Any]:
    """The per-request state dict (what ``request.state`` reads)."""
    return scope.setdefault("state", {})


async def send_error(scope: Scope, send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    """Answer the error envelope from ASGI middleware (the routes' handlers answer the same)."""
    body = json.dumps(error_body(scope_state(scope).get("request_id", "-"), code, message)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """413 for a body above ``limit`` bytes: by Content-Length before anything is read, or as a
    chunked body streams past it (then the route gets a disconnect and whatever it answers is
    dropped: the client already has its 413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await send_error(scope, send, 413, "body_too_large", f"request body of {int(length)} bytes is above the limit of {self.limit}")
            return
        seen, refused, started = 0, False, False

        async def limited() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not started:
                    refused = True
                    await send_error(scope, send, 413, "body_too_large", f"request body is above the limit of {self.limit} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except Exception:
            if not refused:  # after our 413 the route's complaints about the cut body are noise
                raise


class JsonGuard:
    """For JSON bodies: 400 when the body is not UTF-8 or nests deeper than ``max_depth``,
    checked on the bytes before any parser recurses into them (Python's json and pydantic
    recurse per level). The body is then handed to the app unchanged."""

    def __init__(self, app: ASGIApp, max_depth: int) -> None:
        self.app, self.max_depth = app, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left (or the body limit answered): nothing to run
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = await anyio.to_thread.run_sync(self.problem, body) if len(body) > 65536 else self.problem(body)  # off the loop
        if problem:
            await send_error(scope, send, 400, problem[0], problem[1])
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, for request.is_disconnected()

        await self.app(scope, replay, send)

    def problem(self, body: bytes) -> tuple[str, str] | None:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return "invalid_encoding", f"request body is not valid UTF-8 (byte {exc.start})"
        depth = json_depth(body)
        if depth > self.max_depth:
            return "too_deep", f"JSON body nests {depth} levels deep; the limit is {self.max_depth}"
        return None


def json_depth(body: bytes) -> int:
    """The deepest bracket nesting of JSON bytes, brackets inside strings not counted; vectorised
    (a 25 MB body is counted in a fraction of a second, nothing is parsed or recursed into).
    Escaped backslashes, then escaped quotes, are dropped, so every quote left opens or closes a string."""
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    a = np.frombuffer(text, np.uint8)
    brackets = np.flatnonzero((a == ord("[")) | (a == ord("{")) | (a == ord("]")) | (a == ord("}")))
    quotes = np.flatnonzero(a == ord('"'))
    brackets = brackets[(np.searchsorted(quotes, brackets) & 1) == 0]  # an even number of quotes before it: outside strings
    step = np.where((a[brackets] == ord("[")) | (a[brackets] == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(step, dtype=np.int32).max()) if step.size else 0


def _is_json(scope: Scope) -> bool:
    ctype = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip().lower()
    return not ctype or ctype == b"application/json" or (ctype.startswith(b"application/") and ctype.endswith(b"+json"))


class RateLimiter:
    """Token bucket per client: ``rate`` requests per minute, bursts up to ``burst``. Past
    ``max_clients`` buckets the full ones are forgotten (a full bucket is what a new client gets),
    so clients spraying addresses cannot grow it without bound."""

    def __init__(self, per_minute: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate, self.burst, self.max_clients = per_minute / 60.0, burst, max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        if len(self._buckets) > self.max_clients:
            self._buckets = {c: b for c, b in self._buckets.items() if self._level(c, now) < self.burst}

    def _level(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def take(self, client: str) -> float:
        """0 if allowed, else seconds until the next request would be."""
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            tokens = self._level(client, now)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate

    def wait(self, client: str) -> float:
        """Seconds until ``client`` may take again (0: now), without taking."""
        with self._lock:
            tokens = self._level(client, time.monotonic())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate


class HttpMetrics:
    """Request counts by route and status, handling time by route, requests in progress and
    errors by their envelope code, in their own registry (two apps in one process, as in the
    tests, do not collide; other parts register their collectors on ``registry``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("sensorium_http_requests_total", "HTTP requests", ["path", "status"], registry=self.registry)
        self.latency = Histogram("sensorium_http_request_seconds", "Request handling time", ["path"], registry=self.registry,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16))
        self.in_progress = Gauge("sensorium_http_requests_in_progress", "Requests being handled", registry=self.registry)
        self.errors = Counter("sensorium_http_errors_total", "Error answers by their envelope code", ["code"], registry=self.registry)


class Observer:
    """Outermost: gives each request its id (``x-request-id`` when safe, else new; put in
    ``request.state.request_id``), counts and times it, logs one line, counts errors by code,
    and answers anything unexpected with a 500 whose id is in the log."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, request_id_header: bool = True) -> None:
        self.app, self.metrics, self.echo_id = app, metrics, request_id_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = request_id_from(headers[b"x-request-id"].decode("latin-1") if b"x-request-id" in headers else None)
        scope_state(scope)["request_id"] = rid
        start, status, error = time.perf_counter(), 0, None

        async def observed(message: Message) -> None:
            nonlocal status, error
            if message["type"] == "http.response.start":
                status = message["status"]
                if self.echo_id:
                    message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            elif message["type"] == "http.response.body" and status >= 400 and error is None:
                error = _error_code(message.get("body", b""), status)
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, observed)
        except Exception:  # noqa: BLE001 - anything unexpected is a 5xx with its request id in the log
            log.exception("request %s %s failed", rid, scope.get("path"))
            if status == 0:
                await send_error(scope, observed, 500, "internal", "internal error; see the server log for this request id")
        finally:
            self.metrics.in_progress.dec()
            self._record(scope, rid, status, error, time.perf_counter() - start)

    def _record(self, scope: Scope, rid: str, status: int, error: str | None, seconds: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "other"
        self.metrics.latency.labels(path).observe(seconds)
        self.metrics.requests.labels(path, str(status)).inc()
        if status >= 400:
            self.metrics.errors.labels(error or f"http_{status}").inc()
        client = scope_state(scope).get("client") or (scope["client"][0] if scope.get("client") else "-")
        log_request({"request_id": rid, "method": scope["method"], "route": path, "path": scope["path"][:200], "status": status,
                     "duration_ms": round(seconds * 1000, 2), "client": client, "error": error})


def _error_code(body: bytes, status: int) -> str:
    """The envelope's ``code`` of an error answer (``http_<status>`` when it has none)."""
    try:
        return str(json.loads(body[:65536])["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"http_{status}"
