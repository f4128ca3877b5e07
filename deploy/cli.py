"""The ``sensorium`` console script: the pipeline's commands plus ``serve`` and ``agent act``.

It lives in ``deploy/`` because ``serve`` needs the REST app, and only ``deploy`` may import
both layers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from sensorium.pipeline.cli import app

console = Console(stderr=True)
agent_app = typer.Typer(help="The GUI agent from the command line.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    """Print the error; the caller raises what this returns, so every exit shows at its call site."""
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _agent_settings(backend: str, openai_base_url: Optional[str], openai_model: Optional[str], uitars_version: str, prompt: str,
                    icon_weights: str = "none") -> "object":
    from sensorium.pipeline.gui import AgentSettings

    icons = None if icon_weights.lower() == "none" else icon_weights
    try:
        return AgentSettings(backend=backend, openai_base_url=openai_base_url, openai_model=openai_model, uitars_version=uitars_version,
                             prompt_kind=prompt, icon_weights=icons)
    except ValueError as exc:
        raise _fail(str(exc)) from None


_BACKEND = typer.Option("local", "--backend", help="local (OCR grounding, no model) or openai (a UI-TARS model behind an OpenAI-compatible endpoint).")
_BASE = typer.Option(None, "--openai-base-url", help="e.g. http://127.0.0.1:8001/v1 (vLLM).")
_MODEL = typer.Option(None, "--openai-model", help="Served model name, e.g. ByteDance-Seed/UI-TARS-1.5-7B.")
_VERSION = typer.Option("1.5", "--uitars-version", help="1.0 (relative 0-1000 coordinates) or 1.5 (smart-resized pixels).")
_PROMPT = typer.Option("computer", "--prompt", help="computer, mobile or grounding.")
_ICONS = typer.Option("clip_icons", "--icon-weights", help="Embed weights the local backend matches icons with "
                      "(registered name or open_clip checkpoint; loaded on the first icon instruction), or none.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on; anything but loopback needs a token."),
    port: int = typer.Option(8000),
    local: bool = typer.Option(False, "--local", help="Plain uvicorn in this process instead of Ray Serve."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="File whose first line is the bearer token (or set SENSORIUM_TOKEN)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to deploy on ('auto': the one `ray start` runs). Default: RAY_ADDRESS, else a local Ray of its own that stops with the command."),
    replicas: int = typer.Option(1, help="Ray Serve replicas."),
    max_body_mb: float = typer.Option(25.0, help="Largest request body, MB."),
    rate_limit: float = typer.Option(600.0, help="Requests per minute per client."),
    backend: str = _BACKEND, openai_base_url: Optional[str] = _BASE, openai_model: Optional[str] = _MODEL,
    uitars_version: str = _VERSION, prompt: str = _PROMPT, icon_weights: str = _ICONS,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Start the REST service: POST /v1/agent/act, /healthz, /metrics, OpenAPI docs at /docs."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .settings import ServiceSettings, read_token

    try:
        settings = ServiceSettings(host=host, port=port, token=read_token(token_file=token_file), max_body_bytes=int(max_body_mb * 1024 * 1024),
                                   rate_limit_per_minute=rate_limit,
                                   agent=_agent_settings(backend, openai_base_url, openai_model, uitars_version, prompt, icon_weights))
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"sensorium serving on http://{host}:{port} ({'uvicorn' if local else 'Ray Serve'}, backend {backend}, "
                  f"auth {'on' if settings.token else 'off (loopback only)'})")
    if local:
        from .serve import serve_local

        serve_local(settings)
    else:
        from .serve import serve_ray

        serve_ray(settings, ray_address=ray_address, replicas=replicas)


@agent_app.command("act")
def agent_act(
    screenshot: Optional[Path] = typer.Option(None, "--screenshot", help="PNG or JPEG screenshot (with --execute desktop: default, the screen now)."),
    instruction: str = typer.Option(..., "--instruction", "-i"),
    screen_width: Optional[float] = typer.Option(None, help="Logical screen width (default: image width / dpr; with --execute desktop, the desktop's)."),
    screen_height: Optional[float] = typer.Option(None),
    dpr: float = typer.Option(1.0, help="Device pixel ratio of the screenshot."),
    execute: str = typer.Option("none", "--execute", help="none (print only) or desktop (run the actions on this screen with pyautogui)."),
    backend: str = _BACKEND, openai_base_url: Optional[str] = _BASE, openai_model: Optional[str] = _MODEL,
    uitars_version: str = _VERSION, prompt: str = _PROMPT, icon_weights: str = _ICONS,
) -> None:
    """Print the agent's JSON answer (thought, actions in screen pixels, raw text) for one
    screenshot; with ``--execute desktop``, then run the actions on this machine's screen."""
    from sensorium.pipeline.gui import build_gui_agent
    from sensorium.stages.gui_agent import AgentError
    from sensorium.stages.gui_coords import CoordinateError, Screen

    from .app import ApiError, decode_image

    if execute not in ("none", "desktop"):
        raise _fail(f"--execute: expected none or desktop, got {execute!r}")
    executor = None
    if execute == "desktop":
        from sensorium.pipeline.gui_executor import DesktopExecutor

        try:
            executor = DesktopExecutor()
        except RuntimeError as exc:
            raise _fail(str(exc)) from None
    elif screenshot is None:
        raise _fail("--screenshot is needed unless --execute desktop takes one")
    try:
        image = executor.screenshot() if screenshot is None else decode_image(screenshot.read_bytes(), 40_000_000, name=str(screenshot))
    except OSError as exc:
        raise _fail(str(exc)) from None
    except ApiError as exc:
        raise _fail(exc.message) from None
    if executor is not None and screen_width is None and screen_height is None:
        # the agent answers in the executor's pixels, whatever the screenshot's resolution
        screen_width, screen_height = executor.size()
    agent = build_gui_agent(_agent_settings(backend, openai_base_url, openai_model, uitars_version, prompt, icon_weights))
    h, w = image.shape[:2]
    try:
        step = agent.act(image, instruction, Screen(w, h, screen_width, screen_height, dpr))
    except (AgentError, CoordinateError) as exc:
        typer.echo(json.dumps({"error": str(exc), "raw": getattr(exc, "raw", None)}))
        raise typer.Exit(1) from None
    d = step.to_dict()
    typer.echo(json.dumps({"thought": d["thought"], "actions": [{k: a[k] for k in ("type", "x", "y", "x2", "y2", "params")} for a in d["actions"]],
                           "raw": d["raw"], "space": d["metadata"]["space"]}, indent=2))
    if executor is not None:
        try:
            end = executor.run(step.actions)
        except ValueError as exc:
            raise _fail(f"not executed: {exc}", 1) from None
        console.print(f"executed on the desktop{f', ended with {end}' if end else ''}")


app.add_typer(agent_app, name="agent")


def main() -> None:  # pragma: no cover - entry point
    app()
