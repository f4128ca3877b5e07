"""Running the service: Ray Serve (``sensorium serve``: one deployment per stage behind the
``api`` ingress) or plain uvicorn in this process (``sensorium serve --local``), both over the
same FastAPI app and the same stage classes."""

from __future__ import annotations

import logging
import signal
from typing import Any

from sensorium.deploy.application import build_api, build_from_config
from sensorium.deploy.settings import ServiceSettings
from sensorium.pipeline.serve.config import ServeConfig

log = logging.getLogger(__name__)

#: seconds uvicorn (``--local``) lets in-flight requests finish after SIGTERM
LOCAL_DRAIN_S = 30


def serve_local(settings: ServiceSettings, stages: list[str], options: dict[str, dict[str, Any]] | None = None) -> None:
    """Blocking uvicorn server on settings.host:port; ``stages`` load before it listens. On
    SIGTERM/SIGINT it stops accepting and lets in-flight requests finish (LOCAL_DRAIN_S)."""
    import uvicorn

    from sensorium.pipeline.serve.local import LocalPerception

    perception = LocalPerception(stages, options)
    perception.load()
    # uvicorn drains, then re-raises the signal it caught to the handler it found: a no-op here,
    # so a requested stop exits 0 (as the Ray Serve mode does) rather than by the signal
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(build_api(settings, perception), host=settings.host, port=settings.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=LOCAL_DRAIN_S)


def serve_ray(config: ServeConfig, settings: ServiceSettings | None = None, *, ray_address: str | None = None, blocking: bool = True) -> None:
    """Deploy ``config``'s application on Ray Serve (HTTP proxy at its http_options); see
    :func:`~sensorium.pipeline.serve.deployment.run_on_ray_serve` for which Ray and how it stops."""
    from sensorium.pipeline.serve.deployment import run_on_ray_serve

    app_config = config.app
    http = config.http_options
    run_on_ray_serve(build_from_config(app_config, host=http.host, settings=settings), host=http.host, port=http.port, name=app_config.name,
                     route_prefix=app_config.route_prefix, ray_address=ray_address, proxy_location=config.proxy_location,
                     http_extra=http.model_dump(exclude_none=True, exclude={"host", "port"}), blocking=blocking)
