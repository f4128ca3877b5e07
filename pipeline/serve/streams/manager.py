"""The stream manager: streams added and removed while the service runs, one runner actor each.

A plain class: the ``--local`` service holds one in its own process (Ray starts at the first
stream), and the ``streams`` Serve deployment holds one in its replica. Its methods block
(``ray.get``); the async REST side reaches them through :mod:`.client`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any

import ray

from sensorium.pipeline.cluster import init_ray
from sensorium.pipeline.serve.streams.errors import TooManyStreams, UnknownStream
from sensorium.pipeline.serve.streams.policy import StreamPolicy
from sensorium.pipeline.serve.streams.runner import StreamRunner
from sensorium.pipeline.serve.streams.spec import StreamRequest, StreamSpec, build_spec

log = logging.getLogger(__name__)

#: concurrent calls one runner actor serves (long-polling SSE and preview viewers, stats)
RUNNER_CONCURRENCY = 64
#: a runner that does not answer a stats call within this is reported as unreachable
STATS_TIMEOUT_S = 10.0


@dataclass
class _Entry:
    spec: StreamSpec
    actor: Any


class StreamManager:
    """Streams by id under ``policy``; ``ray_address``: the cluster to join (None: the one this
    process is connected to, else a local Ray of its own, started at the first stream)."""

    def __init__(self, policy: StreamPolicy, *, ray_address: str | None = None) -> None:
        self.policy, self.ray_address = policy, ray_address
        self._streams: dict[str, _Entry] = {}
        self._reserved = 0
        self._lock = threading.Lock()

    def create(self, request: StreamRequest) -> dict[str, Any]:
        """Check ``request`` (policy, stages, options), then start its runner; its status."""
        spec = build_spec(self.policy, request)  # everything refused here, before any actor
        with self._lock:
            if len(self._streams) + self._reserved >= self.policy.max_streams:
                raise TooManyStreams(f"this server runs at most {self.policy.max_streams} streams; delete one first")
            self._reserved += 1
        try:
            init_ray(self.ray_address)
            runner = ray.remote(StreamRunner).options(num_cpus=0, max_concurrency=RUNNER_CONCURRENCY, max_restarts=0)
            actor = runner.remote(spec)
            try:
                ray.get(actor.start.remote(), timeout=120)
            except BaseException:
                ray.kill(actor, no_restart=True)
                raise
            with self._lock:
                self._streams[spec.id] = _Entry(spec, actor)
        finally:
            with self._lock:
                self._reserved -= 1
        log.info("stream %s started: %s through %s", spec.id, spec.label, ", ".join(spec.stages))
        return self.get(spec.id)

    def _entry(self, stream_id: str) -> _Entry:
        with self._lock:
            entry = self._streams.get(stream_id)
        if entry is None:
            raise UnknownStream(f"no stream {stream_id!r}")
        return entry

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._streams)

    def get(self, stream_id: str) -> dict[str, Any]:
        """The stream's description and live stats (state, fps, frames, drops, reconnects, errors)."""
        entry = self._entry(stream_id)
        try:
            stats = ray.get(entry.actor.stats.remote(), timeout=STATS_TIMEOUT_S)
        except (ray.exceptions.RayError, TimeoutError) as exc:
            stats = {"state": "failed", "last_error": f"stream runner unreachable: {type(exc).__name__}"}
        return {**describe(entry.spec), **stats}

    def processes(self, stream_id: str) -> dict[str, Any]:
        """The pids of the stream's runner and stage actors (for supervision and tests)."""
        return ray.get(self._entry(stream_id).actor.processes.remote(), timeout=STATS_TIMEOUT_S + 30)

    def list(self) -> list[dict[str, Any]]:
        out = []
        for stream_id in self.ids():
            try:
                out.append(self.get(stream_id))
            except UnknownStream:
                pass  # deleted meanwhile
        return out

    def delete(self, stream_id: str) -> dict[str, Any]:
        """Stop the stream, then kill its runner (and with it every actor it owns); its last status."""
        with self._lock:
            entry = self._streams.pop(stream_id, None)
        if entry is None:
            raise UnknownStream(f"no stream {stream_id!r}")
        try:
            stats = ray.get(entry.actor.stop.remote(), timeout=STATS_TIMEOUT_S + 5)
        except (ray.exceptions.RayError, TimeoutError) as exc:
            stats = {"last_error": f"stream runner did not stop cleanly: {type(exc).__name__}"}
        ray.kill(entry.actor, no_restart=True)
        log.info("stream %s deleted", stream_id)
        return {**describe(entry.spec), **stats, "state": "stopped"}

    async def results(self, stream_id: str, after: int, timeout: float) -> tuple[list[tuple[int, str]], bool]:
        """Records numbered after ``after`` and whether the stream ended (see
        :meth:`StreamRunner.results`). Async: a long poll waits on the actor's answer, not in
        a thread, so many viewers do not exhaust a thread pool."""
        entry = self._entry(stream_id)
        try:
            return await asyncio.wait_for(_awaited(entry.actor.results.remote(after, timeout)), timeout + STATS_TIMEOUT_S)
        except ray.exceptions.RayActorError:
            return [], True  # deleted while waiting

    async def preview(self, stream_id: str, after: int, timeout: float) -> tuple[int, bytes | None, bool]:
        """The newest preview JPEG after ``after`` (see :meth:`StreamRunner.preview`); async as :meth:`results`."""
        entry = self._entry(stream_id)
        try:
            return await asyncio.wait_for(_awaited(entry.actor.preview.remote(after, timeout)), timeout + STATS_TIMEOUT_S)
        except ray.exceptions.RayActorError:
            return after, None, True

    def close(self) -> None:
        """Delete every stream (the service is shutting down)."""
        for stream_id in self.ids():
            try:
                self.delete(stream_id)
            except UnknownStream:
                pass


async def _awaited(ref: Any) -> Any:
    return await ref


def describe(spec: StreamSpec) -> dict[str, Any]:
    """What a client sees of a spec: never the raw source (a URL may carry a password)."""
    return {"id": spec.id, "name": spec.name, "source": spec.label, "stages": list(spec.stages), "sinks": list(spec.sinks),
            "created": spec.created}
