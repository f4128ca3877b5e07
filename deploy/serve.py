"""Running the service: plain uvicorn (``sensorium serve --local``) or a Ray Serve deployment
(``sensorium serve``), both over the same FastAPI app."""

from __future__ import annotations

import logging

from sensorium.deploy.rest.app import create_app
from sensorium.deploy.settings import ServiceSettings

log = logging.getLogger(__name__)

#: the Ray Serve application's name
APP_NAME = "sensorium"


def serve_local(settings: ServiceSettings) -> None:
    """Blocking uvicorn server on settings.host:port."""
    import uvicorn

    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)


def serve_ray(settings: ServiceSettings, *, ray_address: str | None = None, replicas: int = 1, blocking: bool = True) -> None:
    """The same app as Ray Serve application ``sensorium`` (HTTP proxy on settings.host:port);
    see :func:`~sensorium.pipeline.serve.deployment.run_on_ray_serve` for which Ray it uses and how it stops."""
    from sensorium.pipeline.serve.deployment import run_on_ray_serve

    run_on_ray_serve(create_app(settings, request_id_header=False), host=settings.host, port=settings.port, name=APP_NAME, replicas=replicas,
                     ray_address=ray_address, blocking=blocking)
