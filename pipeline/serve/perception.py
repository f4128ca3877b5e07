"""``/v1/perceive``'s backend under Ray Serve: the stage deployments' handles, called in the
order a request names them, each answering its Delta, applied to the request's frame.

Refusals are explicit: a stage whose queue is full raises Serve's ``BackPressureError`` at the
handle, which becomes :class:`Overloaded` (503 with Retry-After); a replica that dies holding
the request is retried once (Serve routes the retry to a live or restarted replica), then
:class:`StageUnavailable`. When the client goes, Serve cancels the ingress's handler and the
cancellation reaches the stage call awaited here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping, Sequence

from prometheus_client import CollectorRegistry
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError

from sensorium.pipeline.perception import FrameInputs, refuse_ordered_stages, request_configs
from sensorium.pipeline.serve.errors import Overloaded, StageUnavailable
from sensorium.pipeline.serve.metrics import StageMetrics
from sensorium.pipeline.serve.stage_server import StageCall, StageReply
from sensorium.stages.base import get_stage_class
from sensorium.stages.frame import Frame

log = logging.getLogger(__name__)

#: a replica gone while it held the call (killed, node lost): worth one retry elsewhere
_DEAD = (ActorDiedError, ActorUnavailableError, RayActorError)


class ServePerception:
    """handles: stage name → the DeploymentHandle of that stage's deployment (its ``run`` is
    the batched method). ready_timeout_s bounds each stage's readiness probe."""

    def __init__(self, handles: Mapping[str, Any], *, ready_timeout_s: float = 5.0) -> None:
        self.handles = dict(handles)
        self.ready_timeout_s = ready_timeout_s
        self.metrics: StageMetrics | None = None

    def register_metrics(self, registry: CollectorRegistry) -> None:
        self.metrics = StageMetrics(registry)

    def configs(self, stages: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> list[tuple[str, Any]]:
        """Each stage's (name, config); ValueError naming an unknown or undeployed stage or a bad option."""
        refuse_ordered_stages(stages)  # before "not deployed": an ordered stage is never deployed, and this says why
        missing = [name for name in stages if name not in self.handles]
        for name in missing:
            get_stage_class(name)  # an unknown name is named as unknown
        if missing:  # before building configs: a stage not deployed here may not even be configurable here
            raise ValueError(f"stage(s) {', '.join(missing)} not deployed in this service (deployed: {', '.join(self.handles)})")
        return request_configs(stages, options)

    async def ready(self) -> dict[str, bool]:
        """stage → whether a replica answers with its model loaded (within ready_timeout_s)."""

        async def ask(handle: Any) -> bool:
            return bool(await handle.ready.remote())

        async def probe(handle: Any) -> bool:
            try:
                return await asyncio.wait_for(ask(handle), self.ready_timeout_s)
            except Exception:  # noqa: BLE001 - any failure means "not ready"
                return False

        answers = await asyncio.gather(*(probe(h) for h in self.handles.values()))
        return dict(zip(self.handles, answers))

    async def perceive(self, inputs: FrameInputs, stages: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> Frame:
        """Run ``stages`` in order on the frame ``inputs`` make; each stage's result or error is on it."""
        configs = self.configs(stages, options)
        frame = inputs.frame()
        for name, config in configs:
            reply = await self._call(name, StageCall(frame, config))
            reply.delta.apply(frame)
        return frame

    async def _call(self, name: str, call: StageCall) -> StageReply:
        metrics = self.metrics
        start = time.perf_counter()
        for attempt in (1, 2):
            try:
                if metrics is None:
                    reply = await self.handles[name].run.remote(call)
                else:
                    with metrics.calling(name):
                        reply = await self.handles[name].run.remote(call)
            except BackPressureError as exc:
                self._rejected(name, "overloaded")
                raise Overloaded(name, str(exc), exc.retry_after_s or 1.0) from None
            except DeploymentUnavailableError as exc:
                self._rejected(name, "unavailable")
                raise StageUnavailable(name, str(exc)) from None
            except _DEAD as exc:
                if attempt == 2:
                    self._rejected(name, "unavailable")
                    raise StageUnavailable(name, f"its replica died twice: {type(exc).__name__}") from None
                log.warning("stage %s: replica died holding a request (%s); retrying once", name, type(exc).__name__)
                continue
            except asyncio.CancelledError:
                if metrics is not None:
                    metrics.cancelled.labels(name).inc()
                raise
            if metrics is not None:
                metrics.done(name, time.perf_counter() - start, reply.batch_size)
            return reply
        raise AssertionError("unreachable")

    def _rejected(self, name: str, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.rejected.labels(name, reason).inc()
