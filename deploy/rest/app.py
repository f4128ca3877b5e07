"""The REST service, assembled: ``POST /v1/agent/act`` (GUI agent), ``POST /v1/perceive``
(stages by name), ``/healthz``, ``/readyz``, ``/metrics`` and the API docs (served offline).

FastAPI with pydantic models. Bad input never reaches the agent: the body is capped before it
is read, the bearer token and its scope are checked before the body is read, JSON is checked
for encoding and depth before it is parsed, an image's size is read from its header before it
is decoded, and every error is JSON ``{"error": {"code", "message", "request_id"}}`` with a 4xx
for the client's mistakes and a 5xx (with the request id in the log) for ours. The parts:
``schemas`` (bodies), ``errors``, ``middleware``, ``auth``, ``logs``, ``docs``, ``routes/``
(one router per resource) over ``service``.
"""

from __future__ import annotations

from fastapi import FastAPI

from sensorium.deploy.rest.auth import ANY, OPEN, Authenticate, required_scope
from sensorium.deploy.rest.docs import install_docs
from sensorium.deploy.rest.errors import ERROR_RESPONSES, install_error_handlers
from sensorium.deploy.rest.logs import configure_access_log
from sensorium.deploy.rest.middleware import BodyLimit, HttpMetrics, JsonGuard, Observer, RateLimiter
from sensorium.deploy.rest.routes import agent as agent_routes
from sensorium.deploy.rest.routes import ops as ops_routes
from sensorium.deploy.rest.routes import perceive as perceive_routes
from sensorium.deploy.rest.routes import streams as streams_routes
from sensorium.deploy.rest.service import AgentService
from sensorium.deploy.settings import ServiceSettings
from sensorium.pipeline.serve.local import LocalPerception
from sensorium.pipeline.serve.streams.client import StreamsClient
from sensorium.stages.gui.stage import GuiAgentStage


def create_app(settings: ServiceSettings, agent: GuiAgentStage | None = None, *, perception: LocalPerception | None = None,
               request_id_header: bool = True, streams: StreamsClient | None = None) -> FastAPI:
    """The service for ``settings``; ``agent`` defaults to one built from ``settings.agent``,
    ``perception`` (what runs ``/v1/perceive``) to stages in this process.
    request_id_header: answer with ``x-request-id`` (off under Ray Serve, whose proxy adds the
    same id itself; two copies read as "id, id")."""
    app = FastAPI(title="sensorium", version="0.1.0", description="Perception pipeline service: stages by name on images, GUI agent actions.",
                  responses=ERROR_RESPONSES, docs_url=None, redoc_url=None)
    app.state.service = AgentService(settings, agent)
    app.state.settings, app.state.agent = settings, app.state.service.agent
    app.state.perception = perception or LocalPerception()  # stages load on the first request that names them
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.state.metrics = HttpMetrics()
    app.state.tokens = settings.token_table()
    # added innermost first: Observer → BodyLimit → Authenticate → JsonGuard → the routes
    app.add_middleware(JsonGuard, max_depth=settings.max_json_depth)
    app.add_middleware(Authenticate, settings=settings, tokens=app.state.tokens, limiter=app.state.limiter)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(Observer, metrics=app.state.metrics, request_id_header=request_id_header)
    install_error_handlers(app)
    install_docs(app)
    streams_routes.install(app, streams, settings.streams)  # app.state.streams (in this process unless given), its metrics
    for routes in (agent_routes, perceive_routes, streams_routes, ops_routes):
        app.include_router(routes.router)
    configure_access_log(settings.log_format)
    if settings.auth_on:
        _document_auth(app, settings.public_ops)
    return app


def _document_auth(app: FastAPI, public_ops: bool) -> None:
    """State the bearer scheme and each operation's scope in the OpenAPI (Swagger UI's Authorize
    button uses it); the middleware enforces it, this only tells."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        spec.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        for path, item in spec["paths"].items():
            need = required_scope(path, public_ops)
            for op in item.values():
                op["security"] = [] if need == OPEN else [{"bearer": []}]
                if need not in (OPEN, ANY):
                    op["description"] = (op.get("description", "") + f"\n\nNeeds a bearer token with the `{need}` scope.").strip()
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
