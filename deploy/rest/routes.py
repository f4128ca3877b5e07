"""The HTTP surface: ``POST /v1/agent/act`` (JSON) and ``/v1/agent/act/upload`` (multipart),
``POST /v1/perceive`` (stages by name on one image), ``/healthz`` and ``/metrics``. Each route checks the caller, decodes the input and calls the
:class:`~sensorium.deploy.rest.service.AgentService` in ``app.state.service``.

The JSON route is a plain ``def`` (FastAPI runs it in its thread pool); the multipart one
reads the form on the event loop and runs the rest in the thread pool, so the agent's compute
never blocks the loop.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from sensorium.deploy.rest.errors import ApiError
from sensorium.deploy.rest.images import decode_b64, decode_image
from sensorium.deploy.rest.schemas import Action, ActRequest, ActResponse, PerceiveRequest, PerceiveResponse, ScreenInfo
from sensorium.deploy.rest.service import AgentService
from sensorium.pipeline.io.sinks.jsonl import frame_record
from sensorium.stages.results import GuiStep

agent_router = APIRouter()
perceive_router = APIRouter()
ops_router = APIRouter()


def _service(request: Request) -> AgentService:
    return request.app.state.service


def authorise(request: Request) -> str:
    """The client (token prefix or address) after the bearer token and the rate limit pass."""
    settings, limiter = _service(request).settings, request.app.state.limiter
    if settings.token:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
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


def to_response(step: GuiStep, request_id: str) -> ActResponse:
    """The API's view of a step (its JSON keys are the API: space, screen, backend at the top)."""
    actions = [Action(type=a.type.value, x=a.x, y=a.y, x2=a.x2, y2=a.y2, params=a.params, raw=a.raw) for a in step.actions]
    return ActResponse(thought=step.thought, actions=actions, raw=step.raw, space=step.space.value, screen=step.screen.to_dict(),
                       backend=step.backend, request_id=request_id)


@agent_router.post("/v1/agent/act", response_model=ActResponse, summary="Next GUI action for a screenshot and an instruction")
def act_json(request: Request, body: ActRequest) -> ActResponse:
    """JSON body with a base64 screenshot. Actions come back in logical screen pixels."""
    authorise(request)
    service = _service(request)
    limit = service.settings.max_image_pixels
    image = decode_image(decode_b64(body.screenshot, "screenshot"), limit)
    history = [(None if item.screenshot is None else decode_image(decode_b64(item.screenshot, f"history[{i}].screenshot"), limit), item.response)
               for i, item in enumerate(body.history)]
    step = service.act(image, body.instruction, width=body.screen.width, height=body.screen.height, dpr=body.screen.dpr, history=history)
    return to_response(step, request.state.request_id)


@agent_router.post("/v1/agent/act/upload", response_model=ActResponse, summary="The same, with the screenshot as a multipart file")
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
            screen = ScreenInfo(width=form.get("screen_width") or None, height=form.get("screen_height") or None, dpr=form.get("dpr") or 1.0)
        except ValueError as exc:
            raise ApiError(422, "invalid_request", f"screen fields: {exc}") from None
        service = _service(request)
        image = decode_image(data, service.settings.max_image_pixels)
        step = service.act(image, instruction, width=screen.width, height=screen.height, dpr=screen.dpr)
        return to_response(step, request.state.request_id)

    return await run_in_threadpool(run)


@perceive_router.post("/v1/perceive", response_model=PerceiveResponse, summary="Run stages by name on one image")
def perceive(request: Request, body: PerceiveRequest) -> PerceiveResponse:
    """The same stage classes as ``sensorium run`` and ``batch``: the same image gives the same
    results. Stage names and options are checked before the image is decoded (422 naming
    what was wrong); a stage that fails on the image reports it in ``errors``."""
    authorise(request)
    perception = request.app.state.perception
    try:
        perception.configs(body.stages, body.options)
    except ValueError as exc:
        raise ApiError(422, "invalid_options", str(exc)) from None
    image = decode_image(decode_b64(body.image, "image"), _service(request).settings.max_image_pixels, name="image")
    frame = perception.perceive(image, body.stages, body.options)
    return PerceiveResponse(**frame_record(frame), request_id=request.state.request_id)


@ops_router.get("/healthz", summary="Liveness and what serves requests")
def healthz(request: Request) -> dict[str, Any]:
    return {"status": "ok", "backend": _service(request).backend_name}


@ops_router.get("/metrics", summary="Prometheus metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
