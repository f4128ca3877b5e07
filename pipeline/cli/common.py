"""What every command group shares: the stderr console, logging set-up, ``--set`` parsing."""

from __future__ import annotations

import logging
from typing import Any

import typer
from rich.console import Console

console = Console(stderr=True)


def setup_logging(verbose: bool, quiet_level: int = logging.WARNING) -> None:
    """INFO with ``--verbose``, else ``quiet_level``."""
    logging.basicConfig(level=logging.INFO if verbose else quiet_level, format="%(levelname)s %(name)s: %(message)s")


def parse_sets(sets: list[str]) -> dict[str, dict[str, Any]]:
    """``--set depth.num_disparities=128`` → {"depth": {"num_disparities": "128"}} (typed by the stage config)."""
    out: dict[str, dict[str, Any]] = {}
    for s in sets:
        key, eq, value = s.partition("=")
        stage, dot, opt = key.partition(".")
        if not eq or not dot or not stage or not opt:
            raise typer.BadParameter(f"expected STAGE.OPTION=VALUE, got {s!r}", param_hint="--set")
        out.setdefault(stage, {})[opt] = value
    return out
