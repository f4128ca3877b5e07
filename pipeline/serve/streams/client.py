"""One async interface to the stream manager, wherever it runs (``app.state.streams``).

``LocalStreams``: the manager in this process (``serve --local``); its blocking calls run in
worker threads so the event loop never waits on Ray, and its long polls (results, preview)
await the runner's answer without holding a thread. ``ServeStreams``: the ``streams`` Serve
deployment through its handle. Refusals come back as :class:`StreamError` either way.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from sensorium.pipeline.serve.streams.errors import StreamError
from sensorium.pipeline.serve.streams.manager import StreamManager
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.pipeline.serve.streams.spec import StreamRequest


class StreamsClient(Protocol):
    """What the REST routes call; ``snapshot`` is synchronous, for the Prometheus collector."""

    async def create(self, request: StreamRequest) -> dict[str, Any]: ...
    async def list(self) -> list[dict[str, Any]]: ...
    async def get(self, stream_id: str) -> dict[str, Any]: ...
    async def delete(self, stream_id: str) -> dict[str, Any]: ...
    async def results(self, stream_id: str, after: int, timeout: float) -> tuple[list[tuple[int, str]], bool]: ...
    async def preview(self, stream_id: str, after: int, timeout: float) -> tuple[int, bytes | None, bool]: ...
    def snapshot(self) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class LocalStreams:
    """The manager in this process (Ray starts lazily, at the first stream)."""

    def __init__(self, manager: StreamManager | StreamPolicy) -> None:
        self.manager = manager if isinstance(manager, StreamManager) else StreamManager(manager)

    async def create(self, request: StreamRequest) -> dict[str, Any]:
        return await asyncio.to_thread(self.manager.create, request)

    async def list(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.manager.list)

    async def get(self, stream_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(self.manager.get, stream_id)

    async def delete(self, stream_id: str) -> dict[str, Any]:
        return await asyncio.to_thread(self.manager.delete, stream_id)

    async def results(self, stream_id: str, after: int, timeout: float) -> tuple[list[tuple[int, str]], bool]:
        return await self.manager.results(stream_id, after, timeout)

    async def preview(self, stream_id: str, after: int, timeout: float) -> tuple[int, bytes | None, bool]:
        return await self.manager.preview(stream_id, after, timeout)

    def snapshot(self) -> list[dict[str, Any]]:
        return self.manager.list() if self.manager.ids() else []

    def close(self) -> None:
        self.manager.close()


class ServeStreams:
    """The ``streams`` deployment behind ``handle`` (a Serve DeploymentHandle). Its replica
    answers ``{"ok": value}`` or ``{"error": StreamError.to_dict()}``, so a refusal arrives as
    the same StreamError a local manager raises."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def _call(self, method: str, *args: Any) -> Any:
        return _unwrap(await getattr(self.handle, method).remote(*args))

    async def create(self, request: StreamRequest) -> dict[str, Any]:
        return await self._call("create", request)

    async def list(self) -> list[dict[str, Any]]:
        return await self._call("list")

    async def get(self, stream_id: str) -> dict[str, Any]:
        return await self._call("get", stream_id)

    async def delete(self, stream_id: str) -> dict[str, Any]:
        return await self._call("delete", stream_id)

    async def results(self, stream_id: str, after: int, timeout: float) -> tuple[list[tuple[int, str]], bool]:
        return await self._call("results", stream_id, after, timeout)

    async def preview(self, stream_id: str, after: int, timeout: float) -> tuple[int, bytes | None, bool]:
        return await self._call("preview", stream_id, after, timeout)

    def snapshot(self) -> list[dict[str, Any]]:
        """Blocking: call it from a worker thread (the /metrics route is synchronous)."""
        return _unwrap(self.handle.list.remote().result(timeout_s=30))

    def close(self) -> None:
        """Nothing: the deployment's streams live as long as the deployment."""


def _unwrap(answer: dict[str, Any]) -> Any:
    if "error" in answer:
        raise StreamError.from_dict(answer["error"])
    return answer["ok"]
