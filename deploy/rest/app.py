"""The REST service, assembled: ``POST /v1/agent/act`` (GUI agent), ``POST /v1/perceive``
(stages by name), ``/healthz``, ``/metrics``.

FastAPI with pydantic models (OpenAPI at ``/docs``). Bad input never reaches the agent: the
body is capped before it is read, the image's size is read from its header before it is
decoded, and every error is JSON ``{"error": {"code", "message", "request_id"}}`` with a 4xx
for the client's mistakes and a 5xx (with the request id in the log) for ours. The parts:
``schemas`` (bodies), ``errors``, ``middleware``, ``auth``, ``routes/`` (one router per resource) over ``service``.
"""

from __future__ import annotations

from fastapi import FastAPI

from sensorium.deploy.rest.errors import ERROR_RESPONSES, install_error_handlers
from sensorium.deploy.rest.middleware import BodyLimit, HttpMetrics, RateLimiter, install_observer
from sensorium.deploy.rest.routes import agent as agent_routes
from sensorium.deploy.rest.routes import ops as ops_routes
from sensorium.deploy.rest.routes import perceive as perceive_routes
from sensorium.deploy.rest.service import AgentService
from sensorium.deploy.settings import ServiceSettings
from sensorium.pipeline.serve.local import LocalPerception
from sensorium.stages.gui.stage import GuiAgentStage


def create_app(settings: ServiceSettings, agent: GuiAgentStage | None = None, *, perception: LocalPerception | None = None,
               request_id_header: bool = True) -> FastAPI:
    """The service for ``settings``; ``agent`` defaults to one built from ``settings.agent``,
    ``perception`` (what runs ``/v1/perceive``) to stages in this process.
    request_id_header: answer with ``x-request-id`` (off under Ray Serve, whose proxy adds the
    same id itself; two copies read as "id, id")."""
    app = FastAPI(title="sensorium", version="0.1.0", description="Perception pipeline service: stages by name on images, GUI agent actions.",
                  responses=ERROR_RESPONSES)
    app.state.service = AgentService(settings, agent)
    app.state.settings, app.state.agent = settings, app.state.service.agent
    app.state.perception = perception or LocalPerception()  # stages load on the first request that names them
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.state.metrics = HttpMetrics()
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)  # outermost: runs before anything reads the body
    install_observer(app, app.state.metrics, request_id_header=request_id_header)
    install_error_handlers(app)
    for routes in (agent_routes, perceive_routes, ops_routes):
        app.include_router(routes.router)
    return app
