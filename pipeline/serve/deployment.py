"""Running a bound Serve application (``sensorium.pipeline.serve.application``) on Ray: the one
place the service starts or joins Ray, so ``deploy/`` builds the web app and never imports Ray."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

log = logging.getLogger(__name__)


def start_serve(*, host: str, port: int, ray_address: str | None = None, proxy_location: str = "EveryNode",
                http_extra: dict[str, Any] | None = None) -> str:
    """Join ``ray_address`` (or ``RAY_ADDRESS``) or start a local Ray, then Serve with its HTTP
    proxy on host:port. Returns the address used ("local" for a Ray of its own)."""
    # Serve gives its HTTP proxy 5 s to report ready; on a loaded 2-core machine importing it
    # takes longer and Serve kills it in a loop. Workers of a local Ray inherit this.
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    from ray import serve

    from sensorium.pipeline.cluster import init_ray

    address = ray_address or os.environ.get("RAY_ADDRESS") or "local"
    init_ray(None if address == "local" else address)
    serve.start(http_options={"host": host, "port": port, **(http_extra or {})}, proxy_location=proxy_location)
    return address


def run_on_ray_serve(app: Any, *, host: str, port: int, name: str, route_prefix: str = "/", ray_address: str | None = None,
                     proxy_location: str = "EveryNode", http_extra: dict[str, Any] | None = None, blocking: bool = True) -> None:
    """Deploy the bound application ``app`` as Ray Serve application ``name``, with Serve's
    HTTP proxy on host:port.

    Without ``ray_address`` (or ``RAY_ADDRESS``) it starts its own local Ray rather than
    joining whatever cluster a ``ray start`` left behind. Blocking, it runs until SIGINT or
    SIGTERM, then takes down what it started: on its own Ray, Serve (each replica first
    finishes its in-flight requests, up to its ``graceful_shutdown_timeout_s``) and Ray itself
    (a SIGTERM would otherwise kill the driver mid-call and leave Serve's actors to die with
    the raylet); on a cluster, only its application.
    """
    import ray
    from ray import serve

    address = start_serve(host=host, port=port, ray_address=ray_address, proxy_location=proxy_location, http_extra=http_extra)
    if not blocking:
        serve.run(app, name=name, route_prefix=route_prefix)
        return
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve.run(app, name=name, route_prefix=route_prefix)
        log.info("Ray Serve application %r ready on http://%s:%d", name, host, port)
        while not stop.wait(1.0):
            pass
        log.info("stopping Ray Serve application %r (in-flight requests finish first)", name)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # the application first, while the proxy still holds the clients' connections: each
        # replica stops taking requests and finishes those it holds (graceful_shutdown_timeout_s);
        # serve.shutdown alone takes the proxy down with the answers still on their way
        serve.delete(name)
        if address == "local":
            serve.shutdown()
        ray.shutdown()
