"""Options and helpers shared by ``serve`` and ``agent act``."""

from __future__ import annotations

from typing import Optional

import typer

from sensorium.pipeline.cli.common import console, fail as _fail  # noqa: F401 - the one stderr console and error exit


def _agent_settings(backend: str, openai_base_url: Optional[str], openai_model: Optional[str], uitars_version: str, prompt: str,
                    icon_weights: str = "none") -> "object":
    """The agent's settings from the command line, built once here; the icon setting becomes the
    :class:`IconConfig` the local backend is handed as is."""
    from sensorium.pipeline.agent.build import AgentSettings
    from sensorium.stages.gui.icons import IconConfig

    try:
        icons = None if icon_weights.strip().lower() == "none" else IconConfig(weights=icon_weights)
        return AgentSettings(backend=backend, openai_base_url=openai_base_url, openai_model=openai_model, uitars_version=uitars_version,
                             prompt_kind=prompt, icons=icons)
    except ValueError as exc:
        raise _fail(str(exc)) from None


_BACKEND = typer.Option("local", "--backend", help="local (OCR grounding, no model) or openai (a UI-TARS model behind an OpenAI-compatible endpoint).")
_BASE = typer.Option(None, "--openai-base-url", help="e.g. http://127.0.0.1:8001/v1 (vLLM).")
_MODEL = typer.Option(None, "--openai-model", help="Served model name, e.g. ByteDance-Seed/UI-TARS-1.5-7B.")
_VERSION = typer.Option("1.5", "--uitars-version", help="1.0 (relative 0-1000 coordinates) or 1.5 (smart-resized pixels).")
_PROMPT = typer.Option("computer", "--prompt", help="computer, mobile or grounding.")
_ICONS = typer.Option("clip_icons", "--icon-weights", help="Embed weights the local backend matches icons with "
                      "(registered name or open_clip checkpoint; loaded on the first icon instruction), or none.")
_TOKENS_FILE = typer.Option(None, "--tokens-file", envvar="SENSORIUM_TOKENS_FILE",
                            help="Hashed bearer tokens with scopes (`sensorium token create`); reread when it changes.")
_PUBLIC_OPS = typer.Option(False, "--public-ops", help="Leave /metrics and the API docs open when tokens are set (else they need the admin scope).")
_LOG_FORMAT = typer.Option("text", "--log-format", help="text or json: one line per request with its request id, route, status and time.")


def _logging(log_format: str, verbose: bool) -> None:
    """Root logging for a service command, in ``log_format`` (text or json)."""
    import logging

    from sensorium.deploy.rest.logs import configure_logging

    if log_format not in ("text", "json"):
        raise _fail(f"--log-format: expected text or json, got {log_format!r}")
    configure_logging(log_format, logging.INFO if verbose else logging.WARNING)
