"""``/v1/perceive``'s backend in the service's own process (``sensorium serve --local``, tests):
the interface of :class:`~sensorium.pipeline.serve.perception.ServePerception` over the
in-process :class:`~sensorium.pipeline.perception.Perception`, its compute in a thread pool so
the event loop keeps answering (health checks, other requests) while a model runs."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Mapping, Sequence

from prometheus_client import CollectorRegistry

from sensorium.pipeline.perception import FrameInputs, Perception, request_configs
from sensorium.pipeline.serve.metrics import StageMetrics
from sensorium.stages.frame import Frame


class LocalPerception:
    """stages/options: what to load before the first request (so ``ready()`` means the models
    are loaded); other stages load on the first request that names them."""

    def __init__(self, stages: Sequence[str] = (), options: Mapping[str, Mapping[str, Any]] | None = None, *, max_stages: int = 8) -> None:
        self.perception = Perception(max_stages)
        self.metrics: StageMetrics | None = None
        self._preload = request_configs(stages, options) if stages else []

    def register_metrics(self, registry: CollectorRegistry) -> None:
        self.metrics = StageMetrics(registry)

    def configs(self, stages: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> list[tuple[str, Any]]:
        """Each stage's (name, config); ValueError naming what is wrong (cheap: no model loads)."""
        return request_configs(stages, options)

    def load(self) -> None:
        """Load the stages named at construction (blocking)."""
        for name, config in self._preload:
            self.perception.stage(name, config)

    async def ready(self) -> dict[str, bool]:
        """stage → whether its model is loaded, for the stages named at construction."""
        loaded = {key[0] for key in self.perception.loaded()}
        return {name: name in loaded for name, _ in self._preload}

    async def perceive(self, inputs: FrameInputs, stages: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None = None) -> Frame:
        """Run ``stages`` in order on the frame ``inputs`` make; each stage's result or error is on it."""
        start = time.perf_counter()
        frame = await asyncio.to_thread(self.perception.perceive, inputs, stages, options)
        if self.metrics is not None:
            for name in stages:  # one frame per call here: batch size 1
                self.metrics.done(name, frame.timings.get(name, time.perf_counter() - start), 1)
        return frame
