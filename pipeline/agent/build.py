"""Building the GUI agent with its backend: the one place that knows both the local grounding
backend (``stages/``) and the OpenAI-compatible HTTP one (``pipeline/agent/openai_backend.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from sensorium.stages.gui.stage import GuiAgentStage


@dataclass(frozen=True)
class AgentSettings:
    """backend ``local`` or ``openai``; the openai_* fields configure the endpoint (the key
    may also come from ``OPENAI_API_KEY``); min_score is the local backend's match floor;
    icon_weights: embed weights the local backend grounds icons with (``clip_icons``, a
    registered name or a checkpoint path with icon_model), None for text only."""

    backend: str = "local"
    min_score: float = 70.0
    icon_weights: str | None = None
    icon_model: str | None = None
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None
    uitars_version: str = "1.5"
    prompt_kind: str = "computer"
    history_images: int = 3
    timeout_s: float = 60.0
    retries: int = 2

    def __post_init__(self) -> None:
        if self.backend not in ("local", "openai"):
            raise ValueError(f"backend: expected 'local' or 'openai', got {self.backend!r}")
        if self.backend == "openai" and not (self.openai_base_url and self.openai_model):
            raise ValueError("the openai backend needs a base URL and a model name (--openai-base-url, --openai-model)")


def build_gui_agent(settings: AgentSettings = AgentSettings()) -> GuiAgentStage:
    """A ready :class:`GuiAgentStage` for ``settings``."""
    if settings.backend == "local":
        icons = {"weights": settings.icon_weights, "model": settings.icon_model} if settings.icon_weights else None
        from sensorium.stages.embed.stage import EmbedStage

        stage = GuiAgentStage({"backend": "local", "min_score": settings.min_score, "options": {"icons": icons} if icons else {}},
                              embedder=EmbedStage)
    else:
        import os

        from sensorium.pipeline.agent.openai_backend import OpenAIBackend

        backend = OpenAIBackend(settings.openai_base_url, settings.openai_model, version=settings.uitars_version, kind=settings.prompt_kind,
                                api_key=settings.openai_api_key or os.environ.get("OPENAI_API_KEY"), history_images=settings.history_images,
                                timeout_s=settings.timeout_s, retries=settings.retries)
        stage = GuiAgentStage({"backend": "openai"}, backend=backend)
    stage.setup()
    return stage
