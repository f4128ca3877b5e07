"""``sensorium agent act``: the GUI agent from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from sensorium.deploy.commands.options import _BACKEND, _BASE, _ICONS, _MODEL, _PROMPT, _VERSION, _agent_settings, _fail, console

agent_app = typer.Typer(help="The GUI agent from the command line.", no_args_is_help=True)


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
    from sensorium.pipeline.agent.build import build_gui_agent
    from sensorium.stages.gui.protocol import AgentError
    from sensorium.stages.gui.coords import CoordinateError, Screen

    from sensorium.deploy.rest.errors import ApiError
    from sensorium.deploy.rest.images import decode_image

    if execute not in ("none", "desktop"):
        raise _fail(f"--execute: expected none or desktop, got {execute!r}")
    settings = _agent_settings(backend, openai_base_url, openai_model, uitars_version, prompt, icon_weights)  # checked before any work
    executor = None
    if execute == "desktop":
        from sensorium.pipeline.agent.executors import DesktopExecutor

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
    agent = build_gui_agent(settings)
    h, w = image.shape[:2]
    try:
        step = agent.act(image, instruction, Screen(w, h, screen_width, screen_height, dpr))
    except (AgentError, CoordinateError) as exc:
        typer.echo(json.dumps({"error": str(exc), "raw": getattr(exc, "raw", None)}))
        raise typer.Exit(1) from None
    d = step.to_dict()
    typer.echo(json.dumps({"thought": d["thought"], "actions": [{k: a[k] for k in ("type", "x", "y", "x2", "y2", "params")} for a in d["actions"]],
                           "raw": d["raw"], "space": d["space"]}, indent=2))
    if executor is not None:
        try:
            end = executor.run(step.actions)
        except ValueError as exc:
            raise _fail(f"not executed: {exc}", 1) from None
        console.print(f"executed on the desktop{f', ended with {end}' if end else ''}")
