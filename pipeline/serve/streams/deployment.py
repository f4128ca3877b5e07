"""The stream manager as the ``streams`` Ray Serve deployment (one replica: the streams' owner).

The ingress reaches it through a deployment handle (:class:`~.client.ServeStreams`). Its
methods are async (the manager's blocking calls in threads, its long polls awaited), so many
SSE viewers can long-poll at once; ``max_ongoing_requests`` is set high for the same reason. Runner actors
created here are owned by the replica: if it dies, its streams die with it.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable

from ray import serve

from sensorium.pipeline.serve.streams.errors import StreamError
from sensorium.pipeline.serve.streams.manager import StreamManager
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.pipeline.serve.streams.spec import StreamRequest

DEPLOYMENT_NAME = "streams"
#: long-polling viewers plus control calls one replica serves at once
MAX_ONGOING = 512


class StreamsDeployment:
    """Serve replica body: a :class:`StreamManager` answering ``{"ok": ...}`` or ``{"error": ...}``."""

    def __init__(self, policy: StreamPolicy | dict[str, Any]) -> None:
        self.manager = StreamManager(policy if isinstance(policy, StreamPolicy) else StreamPolicy(**policy))

    async def _run(self, fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
        try:
            return {"ok": await (fn(*args) if inspect.iscoroutinefunction(fn) else asyncio.to_thread(fn, *args))}
        except StreamError as exc:
            return {"error": exc.to_dict()}

    async def create(self, request: StreamRequest) -> dict[str, Any]:
        return await self._run(self.manager.create, request)

    async def list(self) -> dict[str, Any]:
        return await self._run(self.manager.list)

    async def get(self, stream_id: str) -> dict[str, Any]:
        return await self._run(self.manager.get, stream_id)

    async def delete(self, stream_id: str) -> dict[str, Any]:
        return await self._run(self.manager.delete, stream_id)

    async def results(self, stream_id: str, after: int, timeout: float) -> dict[str, Any]:
        return await self._run(self.manager.results, stream_id, after, timeout)

    async def preview(self, stream_id: str, after: int, timeout: float) -> dict[str, Any]:
        return await self._run(self.manager.preview, stream_id, after, timeout)

    def __del__(self) -> None:
        self.manager.close()


def streams_deployment(policy: StreamPolicy | dict[str, Any], overrides: dict[str, Any] | None = None) -> Any:
    """The bound ``streams`` deployment for an application builder (pass it to the ingress,
    which wraps the handle it receives in :class:`~.client.ServeStreams`); ``overrides``: the
    config file's options for it (one replica stays the sensible choice: it owns the streams)."""
    options = {"name": DEPLOYMENT_NAME, "num_replicas": 1, "max_ongoing_requests": MAX_ONGOING, "ray_actor_options": {"num_cpus": 0},
               **(overrides or {})}
    return serve.deployment(StreamsDeployment).options(**options).bind(policy)
