"""Building the GUI agent with its backend: the one place that knows both the local grounding
backend (``stages/``) and the OpenAI-compatible HTTP one (``pipeline/agent/openai_backend.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sensorium.stages.config import coerce_fields
from sensorium.stages.gui.icons import IconConfig
from sensorium.stages.gui.stage import GuiAgentConfig, GuiAgentStage


@dataclass(frozen=True)
class AgentSettings:
    """backend ``local`` or ``openai``; the openai_* fields configure the endpoint (the key
    may also come from ``OPENAI_API_KEY``); min_score is the local backend's match floor;
    icons: how the local backend grounds icons (an :class:`IconConfig`, built once at the edge
    and handed to the stage as is), None for text only."""

    backend: Literal["local", "openai"] = "local"
    min_score: float = 70.0
    icons: IconConfig | None = None
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None
    uitars_version: Literal["1.0", "1.5"] = "1.5"
    prompt_kind: Literal["computer", "mobile", "grounding"] = "computer"
    history_images: int = 3
    timeout_s: float = 60.0
    retries: int = 2

    def __post_init__(self) -> None:
        coerce_fields(self)
        if self.backend == "openai" and not (self.openai_base_url and self.openai_model):
            raise ValueError("the openai backend needs a base URL and a model name (--openai-base-url, --openai-model)")


def build_gui_agent(settings: AgentSettings = AgentSettings()) -> GuiAgentStage:
    """A ready :class:`GuiAgentStage` for ``settings``."""
    if settings.backend == "local":
        from sensorium.stages.embed.stage import EmbedStage

        stage = GuiAgentStage(GuiAgentConfig(backend="local", min_score=settings.min_score, icons=settings.icons), embedder=EmbedStage)
    else:
        import os

        from sensorium.pipeline.agent.openai_backend import OpenAIBackend

        backend = OpenAIBackend(settings.openai_base_url, settings.openai_model, version=settings.uitars_version, kind=settings.prompt_kind,
                                api_key=settings.openai_api_key or os.environ.get("OPENAI_API_KEY"), history_images=settings.history_images,
                                timeout_s=settings.timeout_s, retries=settings.retries)
        stage = GuiAgentStage(GuiAgentConfig(backend="openai"), backend=backend)
    stage.setup()
    return stage
