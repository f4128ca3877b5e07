"""The service behind the routes: one GUI agent and the settings it serves under.

It takes decoded screenshots and answers :class:`~sensorium.stages.results.GuiStep`; it knows
no HTTP. Its errors are the agent's (``AgentError``, ``CoordinateError``: the client's input)
and :class:`BackendFailed` (the model endpoint); ``errors.py`` gives each its status.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import AbstractAsyncContextManager, nullcontext

import numpy as np

from sensorium.deploy.settings import ServiceSettings
from sensorium.pipeline.agent.build import build_gui_agent
from sensorium.stages.gui.coords import Screen
from sensorium.stages.gui.stage import GuiAgentStage
from sensorium.stages.results import GuiStep


class BackendFailed(RuntimeError):
    """The agent's model backend failed (an HTTP endpoint down or answering garbage)."""


class AgentService:
    """``agent`` defaults to one built from ``settings.agent``. With ``settings.serialize_agent``
    one call runs at a time (the local OCR backend is not thread-safe across calls)."""

    def __init__(self, settings: ServiceSettings, agent: GuiAgentStage | None = None) -> None:
        self.settings = settings
        self.agent = agent or build_gui_agent(settings.agent)
        load = getattr(self.agent.backend, "load", None)
        if callable(load):  # the OCR models now, at start: not in the first client's request (seconds)
            load()
        self._lock = threading.Lock() if settings.serialize_agent else None
        self._slot = asyncio.Lock() if settings.serialize_agent else None

    @property
    def backend_name(self) -> str:
        return self.agent.backend.name

    @property
    def history_images(self) -> int:
        """How many of the latest history screenshots the backend shows the model (0: it uses
        none, as the local backend; their bytes are then never decoded)."""
        return max(0, int(getattr(self.agent.backend, "history_images", 0) or 0))

    def slot(self) -> AbstractAsyncContextManager:
        """Await this before computing (one call at a time with ``serialize_agent``): a request
        waits here, on the event loop, where it can still see that its client left."""
        return self._slot if self._slot is not None else nullcontext()

    def act(self, image: np.ndarray, instruction: str, *, width: float | None = None, height: float | None = None, dpr: float = 1.0,
            history: list[tuple[np.ndarray | None, str]] | None = None) -> GuiStep:
        """The next step for ``image`` ((H, W, 3) uint8 RGB, device pixels) on a screen of
        ``width`` x ``height`` logical pixels (None: the image's size / ``dpr``); actions come
        back in those logical pixels. Raises AgentError, CoordinateError or BackendFailed."""
        h, w = image.shape[:2]
        screen = Screen(w, h, width, height, dpr)
        try:
            with self._lock if self._lock is not None else nullcontext():
                return self.agent.act(image, instruction, screen, history or [])
        except ValueError:  # AgentError, CoordinateError: the client's input, mapped to 4xx
            raise
        except RuntimeError as exc:  # the model endpoint failed
            raise BackendFailed(str(exc)) from None
