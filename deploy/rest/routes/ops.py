"""What operators call: ``/healthz`` (alive), ``/readyz`` (models loaded) and ``/metrics``."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sensorium.deploy.rest.schemas.ops import ReadyResponse

router = APIRouter()


@router.get("/healthz", summary="Liveness and what serves requests")
def healthz(request: Request) -> dict[str, Any]:
    return {"status": "ok", "backend": request.app.state.service.backend_name}


async def _readiness(part: Any) -> dict[str, bool]:
    """``part.ready()`` (plain or a coroutine: the Serve backend asks its replicas) as
    {name: bool}: a bool is one entry, a dict is its entries; a part without ``ready`` is ready
    (nothing to load)."""
    ready = getattr(part, "ready", None)
    if ready is None:
        return {}
    value = ready()
    if inspect.isawaitable(value):
        value = await value
    return {str(k): bool(v) for k, v in value.items()} if isinstance(value, dict) else {"": bool(value)}


@router.get("/readyz", summary="Ready to serve: the agent and the perception backend report their models loaded",
            response_model=ReadyResponse, responses={503: {"model": ReadyResponse, "description": "What is not ready yet"}})
async def readyz(request: Request) -> JSONResponse:
    parts = {"agent": request.app.state.agent, "perception": request.app.state.perception}
    checks = {f"{name}{'.' + k if k else ''}": v for name, part in parts.items() for k, v in (await _readiness(part)).items()}
    waiting = sorted(k for k, v in checks.items() if not v)
    body = ReadyResponse(ready=not waiting, not_ready=waiting, checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if waiting else 200)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
