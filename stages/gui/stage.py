"""The ``gui_agent`` stage: a screenshot and an instruction → a thought and actions in screen
pixels, UI-TARS style.

Every backend answers in UI-TARS text, and every answer goes through the same two steps:
:func:`~sensorium.stages.gui.parse.parse_output` (model coordinates) and :func:`resolve`
(screen pixels, through :mod:`~sensorium.stages.gui.coords`). The local grounding backend
writes its choice in that text too, in ``physical_px``, so there is one path from text to a
click and wrong coordinates cannot come from a second one.

Backends implement :class:`Backend`: ``complete(request) -> (text, space)``. The local one
(``stages/gui/local.py``) is built here; the OpenAI-compatible one makes HTTP calls, so it
lives in ``pipeline/agent/openai_backend.py`` and is passed in (``GuiAgentStage(config, backend=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from sensorium.stages.base import Stage
from sensorium.stages.config import StageConfig
from sensorium.stages.frame import Frame
from sensorium.stages.gui.coords import CoordinateError, Screen
from sensorium.stages.gui.icons import IconConfig
from sensorium.stages.gui.protocol import AgentRequest, Backend, step
from sensorium.stages.results import GuiStep


@dataclass(frozen=True)
class GuiAgentConfig(StageConfig):
    """backend: ``local`` (OCR grounding, no model) or ``openai`` (passed in by the pipeline).
    min_score: the local backend's fuzzy-match floor (0-100) before it calls the user.
    max_side: the local backend's OCR detection size (longer side, pixels).
    small_text: whether the local backend re-reads unread tiles at twice their size when the
    asked label is not found whole (costs a few detections, only on such requests).
    icons: how the local backend grounds icons by CLIP similarity (``stages/gui/icons.py``),
    None for text only; from ``--set``/YAML a nested mapping, e.g. ``{"weights": "clip_icons"}``."""

    backend: Literal["local", "openai"] = "local"
    min_score: float = 70.0
    max_side: int = 800
    small_text: bool = True
    icons: IconConfig | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_side < 32:
            raise ValueError(f"max_side: expected >= 32 pixels, got {self.max_side}")
        if not 0 <= self.min_score <= 100:
            raise ValueError(f"min_score: expected 0..100, got {self.min_score}")


class GuiAgentStage(Stage):
    """Frames carry the screenshot as ``image`` and ``meta["instruction"]``; optional
    ``meta["screen"]`` ({"width", "height"} logical pixels and/or "dpr") and
    ``meta["history"]``. The result is a :class:`GuiStep`."""

    name = "gui_agent"
    Config = GuiAgentConfig

    def __init__(self, config: Any = None, *, backend: Backend | None = None, embedder: Any = None) -> None:
        super().__init__(config)
        self._backend = backend
        self._embedder = embedder  # builds the icon model from its options (the embed stage class)

    def setup(self) -> None:
        if self._backend is not None:
            return
        if self.config.backend == "openai":
            raise ValueError("the openai backend makes HTTP calls: build it with sensorium.pipeline.agent.openai_backend and pass it in")
        from sensorium.stages.gui.local import LocalBackend

        c = self.config
        self._backend = LocalBackend(min_score=c.min_score, max_side=c.max_side, small_text=c.small_text, icons=c.icons,
                                     embedder=self._embedder)

    @property
    def backend(self) -> Backend:
        self.setup()
        return self._backend

    def check(self, frame: Frame) -> None:
        super().check(frame)
        if not str(frame.meta.get("instruction", "")).strip():
            raise ValueError("no instruction (frame.meta['instruction'])")

    def act(self, image: np.ndarray, instruction: str, screen: Screen | None = None,
            history: Sequence[tuple[np.ndarray | None, str]] = ()) -> GuiStep:
        h, w = image.shape[:2]
        screen = screen or Screen(w, h)
        if (screen.image_width, screen.image_height) != (w, h):
            raise CoordinateError(f"screen metadata says a {screen.image_width}x{screen.image_height} screenshot, the image is {w}x{h}")
        return step(self.backend, AgentRequest(image, instruction, screen, tuple(history)))

    def process(self, frames: Sequence[Frame]) -> list[GuiStep]:
        out = []
        for f in frames:
            h, w = f.image.shape[:2]
            s = f.meta.get("screen") or {}
            screen = Screen(w, h, s.get("width"), s.get("height"), float(s.get("dpr", 1.0)))
            out.append(self.act(f.image, str(f.meta["instruction"]), screen, f.meta.get("history", ())))
        return out
