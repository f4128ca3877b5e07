"""What every command group shares: the stderr console, logging set-up, ``--set`` parsing, errors."""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes, not the one at set-up: a command
    run in-process (tests, notebooks) swaps stderr per call and closes the old one after."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201 - logging's own attribute
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001
        pass


def setup_logging(verbose: bool, quiet_level: int = logging.WARNING) -> None:
    """INFO with ``--verbose``, else ``quiet_level``."""
    logging.basicConfig(level=logging.INFO if verbose else quiet_level, format="%(levelname)s %(name)s: %(message)s",
                        handlers=[_StderrHandler()])


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr (unwrapped, no markup read into it); the caller raises
    what this returns, so every exit shows at its call site. Code 2: bad input, nothing ran."""
    console.print(f"[red]error:[/red] {escape(str(message))}", soft_wrap=True)
    return typer.Exit(code)


def parse_sets(sets: list[str]) -> dict[str, dict[str, Any]]:
    """``--set depth.num_disparities=128`` → {"depth": {"num_disparities": "128"}}; a dotted
    option is a nested config (``gui_agent.icons.weights=clip_icons`` →
    {"gui_agent": {"icons": {"weights": "clip_icons"}}}). Values stay text: the stage config
    types them by annotation, and names the option when one does not parse."""
    out: dict[str, dict[str, Any]] = {}
    for s in sets:
        key, eq, value = s.partition("=")
        stage, *path = [p.strip() for p in key.split(".")]
        if not eq or not stage or not path or not all(path):
            raise typer.BadParameter(f"expected STAGE.OPTION=VALUE, got {s!r}", param_hint="--set")
        node = out.setdefault(stage, {})
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise typer.BadParameter(f"{stage}.{'.'.join(path)}: {part} is set to a value and used as a group", param_hint="--set")
        if isinstance(node.get(path[-1]), dict):
            raise typer.BadParameter(f"{stage}.{'.'.join(path)}: is a group of options and set to a value", param_hint="--set")
        node[path[-1]] = value
    return out
