"""The REST service: ``POST /v1/agent/act`` (GUI agent), ``/healthz``, ``/metrics``.

FastAPI with pydantic models (OpenAPI at ``/docs``). Bad input never reaches the agent: the
body is capped before it is read, the image's size is read from its header before it is
decoded (a 50000x50000 PNG is refused without allocating it), and every error is JSON
``{"error": {"code", "message", "request_id"}}`` with a 4xx for the client's mistakes and a
5xx (with the request id in the log) for ours. Handlers are plain ``def`` functions, so the
agent's compute runs in FastAPI's thread pool, never on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import logging
import threading
import time
import uuid
from typing import Any, Optional

import cv2
import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from sensorium.pipeline.agent.build import AgentSettings, build_gui_agent
from sensorium.stages.gui.protocol import AgentError
from sensorium.stages.gui.stage import GuiAgentStage
from sensorium.stages.gui.coords import CoordinateError, Screen

from sensorium.deploy.settings import ServiceSettings

log = logging.getLogger(__name__)


# --- request / response models ------------------------------------------------------------
class ScreenInfo(BaseModel):
    """The screen the screenshot shows: logical size (CSS pixels / points) and/or device pixel ratio."""

    width: Optional[float] = Field(None, gt=0, description="Logical screen width; default: image width / dpr.")
    height: Optional[float] = Field(None, gt=0, description="Logical screen height; default: image height / dpr.")
    dpr: float = Field(1.0, gt=0, le=16, description="Device pixels per logical pixel.")


class HistoryItem(BaseModel):
    screenshot: Optional[str] = Field(None, description="Earlier screenshot, base64 PNG/JPEG.")
    response: str = Field(..., description="The model's text for that step.")


class ActRequest(BaseModel):
    screenshot: str = Field(..., description="Base64 PNG or JPEG (a data: URL prefix is allowed).")
    instruction: str = Field(..., min_length=1, max_length=4000)
    history: list[HistoryItem] = Field(default_factory=list, max_length=50)
    screen: ScreenInfo = Field(default_factory=ScreenInfo)


class Action(BaseModel):
    type: str
    x: Optional[float] = Field(None, description="Screen pixels (logical), where the action has a point.")
    y: Optional[float] = None
    x2: Optional[float] = Field(None, description="Drag end, screen pixels.")
    y2: Optional[float] = None
    params: dict[str, Any] = Field(default_factory=dict)
    raw: str = ""


class ActResponse(BaseModel):
    thought: str
    actions: list[Action]
    raw: str
    space: str = Field(..., description="The coordinate space the backend answered in, before conversion.")
    screen: dict[str, float]
    backend: str
    request_id: str


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str
    raw: Optional[str] = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, raw: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.raw, self.headers = status, code, message, raw, headers or {}


# --- input handling ---------------------------------------------------------------------------
def decode_image(data: bytes, max_pixels: int, name: str = "screenshot") -> np.ndarray:
    """PNG/JPEG bytes → (H, W, 3) uint8 RGB; the size is checked from the header first."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ApiError(400, "bad_image", f"{name}: empty")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            fmt = im.format
    except UnidentifiedImageError:  # its message names an in-memory buffer, nothing the client sent
        raise ApiError(400, "bad_image", f"{name}: not a PNG or JPEG image ({len(data)} bytes starting {data[:8]!r})") from None
    except (OSError, ValueError) as exc:
        raise ApiError(400, "bad_image", f"{name}: not a PNG or JPEG image ({exc})") from None
    except Image.DecompressionBombError:
        raise ApiError(413, "image_too_large", f"{name}: above the decoder's pixel limit") from None
    if fmt not in ("PNG", "JPEG", "WEBP"):
        raise ApiError(400, "bad_image", f"{name}: {fmt} images are not accepted; send PNG or JPEG")
    if w < 1 or h < 1:
        raise ApiError(400, "bad_image", f"{name}: empty image {w}x{h}")
    if w * h > max_pixels:
        raise ApiError(413, "image_too_large", f"{name}: {w}x{h} is above the limit of {max_pixels} pixels")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ApiError(400, "bad_image", f"{name}: the {fmt} data is truncated or corrupt")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_b64(value: str, name: str) -> bytes:
    v = value.strip()
    if v.startswith("data:"):
        v = v.partition(",")[2]
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_image", f"{name}: not valid base64") from None


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
    import json

    body = json.dumps({"error": {"code": code, "message": message, "request_id": uuid.uuid4().hex[:12]}}).encode()
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


# --- the app ----------------------------------------------------------------------------------
def create_app(settings: ServiceSettings, agent: GuiAgentStage | None = None, *, request_id_header: bool = True) -> FastAPI:
    """The service for ``settings``; ``agent`` defaults to one built from ``settings.agent``.
    request_id_header: answer with ``x-request-id`` (off under Ray Serve, whose proxy adds the
    same id itself; two copies read as "id, id")."""
    agent = agent or build_gui_agent(settings.agent)
    app = FastAPI(title="sensorium", version="0.1.0", description="Perception pipeline service: GUI agent actions over REST.",
                  responses={400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 413: {"model": ErrorResponse},
                             422: {"model": ErrorResponse}, 429: {"model": ErrorResponse}})
    registry = CollectorRegistry()
    requests_total = Counter("sensorium_http_requests_total", "HTTP requests", ["path", "status"], registry=registry)
    latency = Histogram("sensorium_http_request_seconds", "Request handling time", ["path"], registry=registry,
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16))
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    agent_lock = threading.Lock() if settings.serialize_agent else None
    app.state.settings, app.state.agent = settings, agent
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)  # outermost: runs before anything reads the body

    def _error(request_id: str, exc: ApiError) -> JSONResponse:
        body = {"error": {"code": exc.code, "message": exc.message, "request_id": request_id, **({"raw": exc.raw} if exc.raw is not None else {})}}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:12]
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # noqa: BLE001 - anything unexpected is a 5xx with its request id in the log
            log.exception("request %s %s failed", request.state.request_id, request.url.path)
            response = _error(request.state.request_id, ApiError(500, "internal", "internal error; see the server log for this request id"))
        path = request.scope.get("route").path if request.scope.get("route") is not None else "other"
        latency.labels(path).observe(time.perf_counter() - start)
        requests_total.labels(path, str(response.status_code)).inc()
        if request_id_header:
            response.headers["x-request-id"] = request.state.request_id
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(getattr(request.state, "request_id", "-"), exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ()) if x != 'body')}: {e.get('msg')}" for e in exc.errors()]
        return _error(getattr(request.state, "request_id", "-"), ApiError(422, "invalid_request", "; ".join(parts) or "invalid request"))

    def authorise(request: Request) -> str:
        if settings.token:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer <token>)", headers={"WWW-Authenticate": "Bearer"})
            if not hmac.compare_digest(token.encode(), settings.token.encode()):
                raise ApiError(401, "unauthorized", "wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
            client = "token:" + token[:6]
        else:
            client = request.client.host if request.client else "unknown"
        wait = limiter.take(client)
        if wait > 0:
            raise ApiError(429, "rate_limited", f"rate limit of {settings.rate_limit_per_minute:g} requests per minute reached",
                           headers={"Retry-After": str(max(1, round(wait)))})
        return client

    def act(request: Request, image: np.ndarray, instruction: str, screen_info: ScreenInfo, history: list[tuple[np.ndarray | None, str]]) -> ActResponse:
        h, w = image.shape[:2]
        try:
            screen = Screen(w, h, screen_info.width, screen_info.height, screen_info.dpr)
            if agent_lock is not None:
                with agent_lock:
                    result = agent.act(image, instruction, screen, history)
            else:
                result = agent.act(image, instruction, screen, history)
        except AgentError as exc:
            raise ApiError(422, "unusable_model_output", str(exc), raw=exc.raw) from None
        except CoordinateError as exc:
            raise ApiError(400, "bad_screen", str(exc)) from None
        except RuntimeError as exc:  # the model endpoint failed
            raise ApiError(502, "backend_failed", str(exc)) from None
        actions = [Action(type=a.type, x=a.x, y=a.y, x2=a.x2, y2=a.y2, params=a.params, raw=a.raw) for a in result.actions]
        return ActResponse(thought=result.thought, actions=actions, raw=result.raw, space=result.metadata["space"],
                           screen=result.metadata["screen"], backend=result.metadata["backend"], request_id=request.state.request_id)

    @app.post("/v1/agent/act", response_model=ActResponse, summary="Next GUI action for a screenshot and an instruction")
    def act_json(request: Request, body: ActRequest) -> ActResponse:
        """JSON body with a base64 screenshot. Actions come back in logical screen pixels."""
        authorise(request)
        image = decode_image(decode_b64(body.screenshot, "screenshot"), settings.max_image_pixels)
        history = [(None if item.screenshot is None else decode_image(decode_b64(item.screenshot, f"history[{i}].screenshot"), settings.max_image_pixels), item.response)
                   for i, item in enumerate(body.history)]
        return act(request, image, body.instruction, body.screen, history)

    @app.post("/v1/agent/act/upload", response_model=ActResponse, summary="The same, with the screenshot as a multipart file")
    async def act_multipart(request: Request) -> ActResponse:
        form = await request.form()
        upload = form.get("screenshot")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "invalid_request", "multipart field 'screenshot' (a file) is required")
        instruction = str(form.get("instruction") or "").strip()
        if not instruction:
            raise ApiError(422, "invalid_request", "multipart field 'instruction' is required")
        data = await upload.read()

        def run() -> ActResponse:
            authorise(request)
            try:
                screen_info = ScreenInfo(width=form.get("screen_width") or None, height=form.get("screen_height") or None, dpr=form.get("dpr") or 1.0)
            except ValueError as exc:
                raise ApiError(422, "invalid_request", f"screen fields: {exc}") from None
            return act(request, decode_image(data, settings.max_image_pixels), instruction, screen_info, [])

        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(run)

    @app.get("/healthz", summary="Liveness and what serves requests")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "backend": agent.backend.name}

    @app.get("/metrics", summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app

