"""The ``openai`` GUI agent backend: a UI-TARS model behind any OpenAI-compatible chat
endpoint (vLLM, SGLang, TGI, a hosted one).

Per step it sends the version's prompt (``stages.gui_agent.build_prompt``), the last
``history_images`` screenshots with the model's earlier answers between them, and the current
screenshot, at temperature 0; it retries connection errors, timeouts, 429 and 5xx with
exponential backoff, and never retries a 4xx, which would fail the same way again. It returns
the text and the coordinate space of the model version (1.0: rel1000, 1.5: smart-resized
absolute pixels); parsing and conversion are the stage's, as for every backend.
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np

from sensorium.stages.gui.prompts import VERSION_SPACE, build_prompt
from sensorium.stages.gui.protocol import AgentRequest
from sensorium.stages.results.gui import CoordinateSpace

log = logging.getLogger(__name__)


class BackendError(RuntimeError):
    """The model endpoint failed (after retries) or answered something that is not a chat completion."""


def _data_url(image_rgb: np.ndarray) -> str:
    ok, png = cv2.imencode(".png", np.ascontiguousarray(image_rgb[..., ::-1]))
    if not ok:
        raise ValueError("could not encode the screenshot as PNG")
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()


@dataclass
class OpenAIBackend:
    """base_url: the endpoint's ``.../v1``; model: the served model name; version: UI-TARS
    ``1.0`` or ``1.5``; kind: prompt ``computer``, ``mobile`` or ``grounding``."""

    base_url: str
    model: str
    version: str = "1.5"
    kind: str = "computer"
    api_key: str | None = None
    history_images: int = 3
    timeout_s: float = 60.0
    retries: int = 2
    backoff_s: float = 0.5
    max_tokens: int = 1024
    language: str = "English"
    name: str = "openai"

    def __post_init__(self) -> None:
        if self.version not in VERSION_SPACE:
            raise ValueError(f"version: expected one of {', '.join(VERSION_SPACE)}, got {self.version!r}")
        if self.history_images < 0 or self.retries < 0 or self.timeout_s <= 0:
            raise ValueError("history_images and retries must be >= 0 and timeout_s > 0")
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self._client = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout_s, headers=headers)

    def messages(self, request: AgentRequest) -> list[dict]:
        """The chat: the prompt, then (screenshot, answer) pairs of the history (only the last
        ``history_images`` keep their image), then the current screenshot."""
        prompt = build_prompt(request.instruction, kind=self.kind, version=self.version, language=self.language)
        msgs: list[dict] = [{"role": "user", "content": prompt}]
        history = list(request.history)
        keep_from = max(0, len(history) - self.history_images)
        for i, (image, answer) in enumerate(history):
            if image is not None and i >= keep_from:
                msgs.append({"role": "user", "content": [{"type": "image_url", "image_url": {"url": _data_url(image)}}]})
            msgs.append({"role": "assistant", "content": answer})
        msgs.append({"role": "user", "content": [{"type": "image_url", "image_url": {"url": _data_url(request.image)}}]})
        return msgs

    def complete(self, request: AgentRequest) -> tuple[str, CoordinateSpace]:
        import httpx

        body = {"model": self.model, "messages": self.messages(request), "temperature": 0.0, "max_tokens": self.max_tokens}
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                r = self._client.post("/chat/completions", json=body)
            except httpx.HTTPError as exc:  # connection refused, reset, timeout
                last = f"{type(exc).__name__}: {exc}"
                log.warning("model endpoint %s: %s (attempt %d of %d)", self.base_url, last, attempt + 1, self.retries + 1)
                continue
            if r.status_code == 429 or r.status_code >= 500:
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                log.warning("model endpoint %s: %s (attempt %d of %d)", self.base_url, last, attempt + 1, self.retries + 1)
                continue
            if r.status_code >= 400:
                raise BackendError(f"model endpoint {self.base_url} refused the request: HTTP {r.status_code}: {r.text[:300]}")
            try:
                text = r.json()["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError):
                raise BackendError(f"model endpoint {self.base_url} answered something that is not a chat completion: {r.text[:300]}") from None
            if not isinstance(text, str):
                raise BackendError(f"model endpoint {self.base_url}: message content is {type(text).__name__}, expected text")
            return text, VERSION_SPACE[self.version]
        raise BackendError(f"model endpoint {self.base_url} failed {self.retries + 1} times; last: {last}")

    def close(self) -> None:
        self._client.close()
