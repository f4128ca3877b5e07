"""Per-stream Prometheus metrics, read from the manager's stats when ``/metrics`` is scraped.

A custom collector rather than metric objects updated as frames pass: the numbers live in
each stream's runner actor, and a deleted stream's series vanish with it instead of staying
at their last value forever.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

STATES = ("starting", "running", "reconnecting", "stopped", "failed")


class StreamsCollector(Collector):
    """Collects from ``snapshot()``: a list of stream statuses as the manager gives them."""

    def __init__(self, snapshot: Callable[[], list[dict[str, Any]]]) -> None:
        self.snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []  # the series depend on the streams alive at scrape time

    def collect(self) -> Iterator[Metric]:
        try:
            streams = self.snapshot()
        except Exception:  # noqa: BLE001 - a scrape must still answer with the other metrics
            log.warning("stream metrics: cannot read the streams' stats", exc_info=True)
            streams = []
        frames = CounterMetricFamily("sensorium_stream_frames", "Frames a stream has emitted", labels=["stream"])
        fps = GaugeMetricFamily("sensorium_stream_fps", "Frames per second a stream emits now", labels=["stream"])
        drops = CounterMetricFamily("sensorium_stream_dropped_frames", "Frames a live stream dropped (consumer behind)", labels=["stream"])
        reconnects = CounterMetricFamily("sensorium_stream_reconnects", "Times a stream's source was lost and reconnection began", labels=["stream"])
        state = GaugeMetricFamily("sensorium_stream_state", "1 for the state a stream is in", labels=["stream", "state"])
        errors = CounterMetricFamily("sensorium_stream_errors", "Frames with an error, by kind (source or stage)", labels=["stream", "kind"])
        latency = HistogramMetricFamily("sensorium_stream_latency_seconds", "Capture-to-result latency of a stream's frames", labels=["stream"])
        for s in streams:
            sid = str(s.get("id"))
            frames.add_metric([sid], float(s.get("frames", 0)))
            fps.add_metric([sid], float(s.get("fps", 0.0)))
            drops.add_metric([sid], float(s.get("drops", 0)))
            reconnects.add_metric([sid], float(s.get("reconnects", 0)))
            for name in STATES:
                state.add_metric([sid, name], 1.0 if s.get("state") == name else 0.0)
            for kind, n in (s.get("errors") or {}).items():
                errors.add_metric([sid, str(kind)], float(n))
            if s.get("latency"):
                latency.add_metric([sid], _buckets(s["latency"]), sum_value=float(s["latency"]["sum"]))
        yield from (frames, fps, drops, reconnects, state, errors, latency)


def _buckets(h: dict[str, Any]) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs, ``+Inf`` last, from per-bucket counts."""
    out, total = [], 0
    for le, n in zip([*map(str, h["buckets"]), "+Inf"], h["counts"]):
        total += n
        out.append((le, float(total)))
    return out
