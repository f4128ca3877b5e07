"""The Ray Serve application: one deployment per stage (named after it) and the ``api`` ingress
(the REST app) holding their handles. ``deploy/application.py`` is the ``import_path`` builder;
this module is where Ray is touched, so ``deploy/`` never imports it.

Defaults make a stage's own queue bite first: a stage deployment accepts
``max_ongoing_requests = 2 x max_batch_size`` and queues ``4 x max_batch_size`` more at the
ingress's handle, beyond which the handle raises BackPressureError (503 with Retry-After); the
ingress accepts 256 ongoing and 256 queued, so it refuses only when far more clients come than
every stage together could queue, and then Serve's proxy answers the same 503 with Retry-After
(its ``backpressure_config``).
"""

from __future__ import annotations

from typing import Any, Callable

from ray import serve

from sensorium.pipeline.perception import request_configs
from sensorium.pipeline.serve.config import INGRESS, STREAMS, AppArgs, ApplicationConfig, BatchingConfig
from sensorium.pipeline.serve.perception import ServePerception
from sensorium.pipeline.serve.stage_server import StageServer
from sensorium.pipeline.serve.streams.client import ServeStreams
from sensorium.pipeline.serve.streams.deployment import streams_deployment
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.stages.base import get_stage_class

#: seconds a replica keeps answering in-flight requests after it is told to stop
STAGE_DRAIN_S = 30.0
INGRESS_DRAIN_S = 60.0  # longer than a stage's: its requests wait on the stages'
BACKPRESSURE = {"status_code": 503, "retry_after_s": 1.0}


@serve.ingress()
class Api:
    """The REST app (``factory(perception, streams)``, built in the replica) over the stages'
    handles and the stream manager's."""

    def __init__(self, factory: Callable[[Any, Any], Any], handles: dict[str, Any], streams: Any) -> None:
        self._factory = factory
        self._perception = ServePerception(handles)
        self._streams = ServeStreams(streams)

    def __serve_build_asgi_app__(self) -> Any:
        return self._factory(self._perception, self._streams)


def stage_defaults(name: str, config: Any, batching: BatchingConfig) -> dict[str, Any]:
    """A stage deployment's Serve options before the config file's overrides."""
    wants_gpu = get_stage_class(name).resources(config).wants_gpu
    return {"name": name, "num_replicas": 1, "ray_actor_options": {"num_cpus": 1.0, "num_gpus": 1.0 if wants_gpu else 0.0},
            "max_ongoing_requests": 2 * batching.max_batch_size, "max_queued_requests": 4 * batching.max_batch_size,
            "backpressure_config": BACKPRESSURE, "graceful_shutdown_timeout_s": STAGE_DRAIN_S, "graceful_shutdown_wait_loop_s": 0.5,
            "user_config": batching.model_dump()}


def ingress_defaults() -> dict[str, Any]:
    return {"name": INGRESS, "num_replicas": 1, "ray_actor_options": {"num_cpus": 0.0}, "max_ongoing_requests": 256,
            "max_queued_requests": 256, "backpressure_config": BACKPRESSURE, "graceful_shutdown_timeout_s": INGRESS_DRAIN_S,
            "graceful_shutdown_wait_loop_s": 0.5}


def _merged(defaults: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = {**defaults, **override}
    if "ray_actor_options" in override:  # a given num_cpus keeps the default num_gpus, and back
        out["ray_actor_options"] = {**defaults["ray_actor_options"], **override["ray_actor_options"]}
    return out


def build_application(factory: Callable[[Any, Any], Any], app: ApplicationConfig | AppArgs, streams_policy: StreamPolicy) -> Any:
    """The bound Serve application for ``app`` (a whole application config, or only its args as
    ``serve deploy`` hands them to the builder; Serve then applies the file's ``deployments``).
    factory(perception, streams) builds the REST app inside the ingress replica; the ``streams``
    deployment (one replica, the streams' owner) runs ``/v1/streams`` under ``streams_policy``."""
    config = app if isinstance(app, ApplicationConfig) else ApplicationConfig(args=app)
    args = config.args
    stage_apps = {}
    for name, stage_config in request_configs(args.stages, args.options):
        batching = args.batching.get(name, BatchingConfig())
        options = _merged(stage_defaults(name, stage_config, batching), config.deployment(name).serve_options())
        if options["max_ongoing_requests"] < options["user_config"]["max_batch_size"]:
            raise ValueError(f"deployments.{name}: max_ongoing_requests ({options['max_ongoing_requests']}) below its max_batch_size "
                             f"({options['user_config']['max_batch_size']}): batches could never fill")
        stage_apps[name] = serve.deployment(StageServer).options(**options).bind(name, stage_config, options["user_config"])
    streams = streams_deployment(streams_policy, config.deployment(STREAMS).serve_options())
    ingress = serve.deployment(Api).options(**_merged(ingress_defaults(), config.deployment(INGRESS).serve_options()))
    return ingress.bind(factory, stage_apps, streams)
