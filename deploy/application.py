"""The Ray Serve application builder named by the Serve config's ``import_path``
(``sensorium.deploy.application:build``): what ``serve deploy serve.yaml`` and ``sensorium
serve --config serve.yaml`` both call. It turns the config's ``args`` into typed values here,
at the edge (the service's settings, each stage's options and batching), and hands them to
``sensorium.pipeline.serve.application``, which binds the deployments."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import FastAPI

from sensorium.deploy.rest.app import create_app
from sensorium.deploy.settings import ServiceSettings, read_token, read_tokens_file
from sensorium.pipeline.serve.config import AppArgs, ApplicationConfig, ServeConfigError, parse_app_args


def build_api(settings: ServiceSettings, perception: Any, streams: Any = None, *, request_id_header: bool = True) -> FastAPI:
    """The REST app over ``perception`` (a LocalPerception or ServePerception) and ``streams``
    (None: a stream manager in this process), its stage metrics registered where ``/metrics``
    reads. Under Ray Serve request_id_header is off: Serve's proxy adds the same id itself."""
    app = create_app(settings, perception=perception, streams=streams, request_id_header=request_id_header)
    perception.register_metrics(app.state.metrics.registry)
    return app


def service_settings(args: AppArgs, *, host: str | None = None, default_host: str | None = None,
                     credentials: dict[str, Any] | None = None) -> ServiceSettings:
    """The REST service's settings from ``args.service`` (ServiceSettings' fields). host: the
    address Serve's proxy listens on, when known (it decides whether a token is required, so it
    overrides ``service.host``); default_host: what to assume when neither says. credentials:
    ``token``/``tokens_file`` for what the file leaves unset (default: the environment's,
    ``SENSORIUM_TOKEN[_FILE]``, ``SENSORIUM_TOKENS_FILE``, as under `serve deploy` in a pod)."""
    fields = dict(args.service)
    if credentials is None:
        credentials = {"token": read_token(), "tokens_file": read_tokens_file()}
    for key, value in credentials.items():
        if value and not fields.get(key):
            fields[key] = value
    if host is not None:
        fields["host"] = host
    elif default_host is not None:
        fields.setdefault("host", default_host)
    try:
        return ServiceSettings(**fields)
    except (TypeError, ValueError, FileNotFoundError) as exc:
        raise ServeConfigError(f"args.service: {exc}") from None


def build_from_config(app: ApplicationConfig, *, host: str | None = None, default_host: str | None = None,
                      settings: ServiceSettings | None = None) -> Any:
    """The bound application for one application of a Serve config (its deployments' overrides
    applied here); ``settings``: the service's, when the command line built them already."""
    from sensorium.pipeline.serve.application import build_application  # imports Ray: only where a Serve app is built

    settings = settings or service_settings(app.args, host=host, default_host=default_host)
    return build_application(functools.partial(build_api, settings, request_id_header=False), app, settings.streams)


def build(args: dict[str, Any]) -> Any:
    """Ray Serve's application builder: ``args`` as the config file gives them
    (``{stages, options, service, batching}``); Serve applies the file's ``deployments``.

    The builder cannot see the file's ``http_options``, so it assumes the proxy is public
    (``0.0.0.0``: a token is required) unless ``service.host`` says which address it is."""
    return build_from_config(ApplicationConfig(args=parse_app_args(args)), default_host="0.0.0.0")
