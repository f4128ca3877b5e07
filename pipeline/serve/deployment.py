"""Serving an ASGI app (the REST service's FastAPI app, ``sensorium.deploy.rest.app.create_app``) under Ray Serve: the one place the
service touches Ray, so ``deploy/`` builds the web app and never imports Ray itself."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

log = logging.getLogger(__name__)


def run_on_ray_serve(app: Any, *, host: str, port: int, name: str, replicas: int = 1, num_cpus: float = 1.0,
                     ray_address: str | None = None, blocking: bool = True) -> None:
    """Deploy ``app`` (a FastAPI app, its middleware included) as Ray Serve application
    ``name``, with Serve's HTTP proxy on host:port.

    Without ``ray_address`` (or ``RAY_ADDRESS``) it starts its own local Ray rather than
    joining whatever cluster a ``ray start`` left behind. Blocking, it runs until SIGINT or
    SIGTERM, then takes down what it started: on its own Ray, Serve and Ray itself (a SIGTERM
    would otherwise kill the driver mid-call, with a stack dump, and leave Serve's actors to
    die with the raylet); on a cluster, only its application.
    """
    # Serve gives its HTTP proxy 5 s to report ready; on a loaded 2-core machine importing it
    # takes longer and Serve kills it in a loop. Workers of a local Ray inherit this.
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    import ray
    from ray import serve

    from sensorium.pipeline.cluster import init_ray

    address = ray_address or os.environ.get("RAY_ADDRESS") or "local"
    init_ray(None if address == "local" else address)
    serve.start(http_options={"host": host, "port": port})

    @serve.deployment(num_replicas=replicas, ray_actor_options={"num_cpus": num_cpus})
    @serve.ingress(app)
    class Ingress:
        """The ASGI app behind Ray Serve's proxy."""

    if not blocking:
        serve.run(Ingress.bind(), name=name, route_prefix="/")
        return
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve.run(Ingress.bind(), name=name, route_prefix="/")
        log.info("Ray Serve application %r ready on http://%s:%d", name, host, port)
        while not stop.wait(1.0):
            pass
        log.info("stopping Ray Serve application %r", name)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if address == "local":
            serve.shutdown()
        else:
            serve.delete(name)
        ray.shutdown()
