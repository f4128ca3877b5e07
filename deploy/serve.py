"""Running the service: plain uvicorn (``sensorium serve --local``) or a Ray Serve deployment
(``sensorium serve``), both over the same FastAPI app."""

from __future__ import annotations

import logging

from .app import create_app
from .settings import ServiceSettings

log = logging.getLogger(__name__)


def serve_local(settings: ServiceSettings) -> None:
    """Blocking uvicorn server on settings.host:port."""
    import uvicorn

    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)


def serve_ray(settings: ServiceSettings, *, ray_address: str | None = None, replicas: int = 1, blocking: bool = True) -> None:
    """The same app as a Ray Serve deployment (HTTP proxy on settings.host:port)."""
    import os

    # Serve gives its HTTP proxy 5 s to report ready; on a loaded 2-core machine importing it
    # takes longer and Serve kills it in a loop. Workers of a local Ray inherit this.
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    import ray
    from ray import serve

    if not ray.is_initialized():
        ray.init(address=ray_address, ignore_reinit_error=True, include_dashboard=False)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    app = create_app(settings)

    @serve.deployment(num_replicas=replicas, ray_actor_options={"num_cpus": 1})
    @serve.ingress(app)
    class AgentService:
        """The FastAPI app (its middleware included: body limit, auth, metrics) behind Ray Serve's proxy."""

    serve.run(AgentService.bind(), name="sensorium", route_prefix="/", blocking=blocking)
