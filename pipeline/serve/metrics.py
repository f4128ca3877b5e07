"""What ``/metrics`` says about ``/v1/perceive``'s stages, in the registry the REST app exposes
(``app.state.metrics.registry``): per-stage latency, the batch each call ran in, calls in
flight (the queue a stage has in front of it, as this ingress sees it), and refusals by reason."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: batch sizes a stage can run in (up to the largest max_batch_size worth configuring on CPU)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


class StageMetrics:
    """Collectors registered on ``registry`` (one set per app: two apps in one process, as in
    the tests, do not collide)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.latency = Histogram("sensorium_stage_seconds", "Time a /v1/perceive request spent in a stage (queue, batch wait and compute)",
                                 ["stage"], registry=registry, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32))
        self.batch_size = Histogram("sensorium_stage_batch_size", "Frames in the stage call a request's frame ran in",
                                    ["stage"], registry=registry, buckets=BATCH_BUCKETS)
        self.in_flight = Gauge("sensorium_stage_in_flight", "Requests sent to a stage and not answered yet", ["stage"], registry=registry)
        self.rejected = Counter("sensorium_stage_rejected_total", "Requests a stage refused (503), by reason: overloaded (queue full), "
                                "unavailable (replica died twice)", ["stage", "reason"], registry=registry)
        self.cancelled = Counter("sensorium_stage_cancelled_total", "Stage calls cancelled because the client went away",
                                 ["stage"], registry=registry)

    @contextmanager
    def calling(self, stage: str) -> Iterator[None]:
        """Count one call in flight to ``stage`` while the block runs."""
        gauge = self.in_flight.labels(stage)
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    def done(self, stage: str, seconds: float, batch_size: int) -> None:
        self.latency.labels(stage).observe(seconds)
        self.batch_size.labels(stage).observe(batch_size)
