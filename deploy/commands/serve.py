"""``sensorium serve``: the REST service on Ray Serve (a deployment per stage behind the ``api``
ingress) or, with ``--local``, under uvicorn in this process."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import typer

from sensorium.deploy.commands.options import _BACKEND, _BASE, _ICONS, _MODEL, _PROMPT, _VERSION, _agent_settings, _fail, console
from sensorium.deploy.commands.options import _LOG_FORMAT, _PUBLIC_OPS, _TOKENS_FILE, _logging

app = typer.Typer()


def _config(config: Optional[Path], stages: str, host: str, port: int, replicas: int, service: dict[str, Any],
            options: dict[str, dict[str, Any]]) -> Any:
    """The Serve config: the file given (its http_options and args win), else one from the flags
    (``options``: the stages' ``--set`` values)."""
    from sensorium.pipeline.serve.config import parse_serve_config, read_serve_config

    if config is not None:
        if options:
            raise ValueError(f"--set {next(iter(options))}...: with --config, stage options go in the config file's args.options")
        return read_serve_config(config)
    names = [s.strip() for s in stages.split(",") if s.strip()]
    deployments = [{"name": n, "num_replicas": replicas} for n in names] if replicas != 1 else []
    return parse_serve_config({"http_options": {"host": host, "port": port},
                               "applications": [{"args": {"stages": names, "options": options, "service": service}, "deployments": deployments}]})


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on; anything but loopback needs a token."),
    port: int = typer.Option(8000),
    local: bool = typer.Option(False, "--local", help="Plain uvicorn in this process instead of Ray Serve."),
    config: Optional[Path] = typer.Option(None, "--config", help="Ray Serve config YAML (deploy/serve.yaml; docs/serving.md): stages, "
                                          "options, batching, replicas, queues. Its http_options replace --host/--port."),
    stages: str = typer.Option("detect,face", "--stages", help="Stages /v1/perceive serves, loaded at start (without --config)."),
    set_: list[str] = typer.Option([], "--set", help="A served stage's default option STAGE.OPTION=VALUE (repeatable; without --config), e.g. embed.weights=clip-vit-b-32-laion2b."),
    allow_download: bool = typer.Option(False, "--allow-download", help="Fetch registered weights a stage names that are not here yet (verified by sha256) before the service starts; without it a missing one is an error naming the file, its URL and the cache path."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="File whose first line is the bearer token (or set SENSORIUM_TOKEN)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to deploy on ('auto': the one `ray start` runs). Default: RAY_ADDRESS, else a local Ray of its own that stops with the command."),
    replicas: int = typer.Option(1, help="Replicas of each stage deployment (without --config)."),
    max_body_mb: float = typer.Option(25.0, help="Largest request body, MB."),
    rate_limit: float = typer.Option(600.0, help="Requests per minute per client."),
    stream_scheme: list[str] = typer.Option(["rtsp", "rtsps", "http", "https"], "--stream-scheme", help="URL scheme POST /v1/streams may open (repeat)."),
    stream_file_root: list[Path] = typer.Option([], "--stream-file-root", help="Folder whose files POST /v1/streams may open (repeat; default none)."),
    allow_cameras: bool = typer.Option(False, "--allow-cameras", help="Let POST /v1/streams open this machine's cameras by index."),
    stream_output_root: Optional[Path] = typer.Option(None, "--stream-output-root", help="Folder stream sinks write under (default: none, results over SSE only)."),
    max_streams: int = typer.Option(8, "--max-streams", help="Streams at once."),
    backend: str = _BACKEND, openai_base_url: Optional[str] = _BASE, openai_model: Optional[str] = _MODEL,
    uitars_version: str = _VERSION, prompt: str = _PROMPT, icon_weights: str = _ICONS,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
    tokens_file: Optional[Path] = _TOKENS_FILE, public_ops: bool = _PUBLIC_OPS, log_format: str = _LOG_FORMAT,
) -> None:
    """Start the REST service: POST /v1/perceive, /v1/agent/act, /v1/streams, /healthz, /readyz, /metrics, OpenAPI docs at /docs."""
    _logging(log_format, verbose)
    from sensorium.deploy.application import service_settings
    from sensorium.deploy.settings import StreamPolicy, read_token, read_tokens_file
    from sensorium.pipeline.cli.checks import check_stages
    from sensorium.pipeline.cli.common import parse_sets
    from sensorium.pipeline.perception import request_configs

    try:
        credentials = {"token": read_token(token_file=token_file), "tokens_file": read_tokens_file(tokens_file)}
        service = {**credentials, "max_body_bytes": int(max_body_mb * 1024 * 1024), "rate_limit_per_minute": rate_limit,
                   "public_ops": public_ops, "log_format": log_format,
                   "streams": StreamPolicy(tuple(stream_scheme), allow_cameras, tuple(map(str, stream_file_root)),
                                           None if stream_output_root is None else str(stream_output_root), max_streams)}
        serve_config = _config(config, stages, host, port, replicas, service, parse_sets(set_))
        http, args = serve_config.http_options, serve_config.app.args
        settings = service_settings(args, host=http.host, credentials=credentials)
        # every stage known, every option parsed, each able to serve single images here: before Ray or a server starts
        check_stages(request_configs(args.stages, args.options), command="serve", allow_download=allow_download)
        if config is None:  # the agent's flags apply to a service built from flags
            settings = replace(settings, agent=_agent_settings(backend, openai_base_url, openai_model, uitars_version, prompt, icon_weights))
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"sensorium serving {', '.join(args.stages)} on http://{http.host}:{http.port} ({'uvicorn' if local else 'Ray Serve'}, "
                  f"auth {'on' if settings.auth_on else 'off (loopback only)'})")
    if local:
        from sensorium.deploy.serve import serve_local

        serve_local(replace(settings, host=http.host, port=http.port), args.stages, args.options)
    else:
        from sensorium.deploy.serve import serve_ray
        from sensorium.pipeline.cluster import RayUnavailable

        try:
            serve_ray(serve_config, settings, ray_address=ray_address)
        except RayUnavailable as exc:
            raise _fail(str(exc)) from None
