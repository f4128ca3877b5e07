"""Prometheus metrics of a pipeline run (per-stage latency, queue depth, drops, fps).

Each pipeline owns its own CollectorRegistry, so several pipelines (or tests) in one process
never collide on metric names; ``serve(port)`` exposes it over HTTP.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from sensorium.stages.results.zones import ZoneCounts

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12)


class PipelineMetrics:
    """Prometheus series plus the raw samples the end-of-run summary table needs."""

    def __init__(self, *, keep_samples: int | None = None) -> None:
        """keep_samples: raw samples kept per stage for the summary (None: all; a stream that
        runs for days keeps only the most recent ones)."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.stage_latency = Histogram("sensorium_stage_latency_seconds", "Compute time per frame in a stage", ["stage"], buckets=_BUCKETS, registry=r)
        self.stage_batch = Histogram("sensorium_stage_batch_size", "Frames per stage call", ["stage"], buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.hop_overhead = Histogram("sensorium_stage_overhead_seconds", "Call wall time minus compute time: Ray hops plus waiting behind earlier calls in the actor", ["stage"], buckets=_BUCKETS, registry=r)
        self.queue_depth = Gauge("sensorium_queue_depth", "Frames waiting for a stage", ["stage"], registry=r)
        self.in_flight = Gauge("sensorium_in_flight_frames", "Frames admitted and not yet emitted", registry=r)
        self.frames = Counter("sensorium_frames_total", "Frames emitted", ["source", "status"], registry=r)
        self.dropped = Gauge("sensorium_dropped_frames", "Frames dropped by a live source's policy", ["source"], registry=r)
        self.fps = Gauge("sensorium_fps", "Emitted frames per second over the last few seconds", ["source"], registry=r)
        self.source_state = Gauge("sensorium_source_state", "1 for the state a source is in", ["source", "state"], registry=r)
        self.reconnects = Counter("sensorium_source_reconnects_total", "Times a live source lost its stream and reconnected", ["source"], registry=r)
        self.stage_errors = Counter("sensorium_stage_errors_total", "Frames a stage could not process", ["stage"], registry=r)
        self.zone_tracks = Gauge("sensorium_zone_tracks", "Tracks inside a zone now (last seen inside)", ["source", "zone"], registry=r)
        self.zone_entries = Counter("sensorium_zone_entries_total", "Tracks that entered a zone", ["source", "zone"], registry=r)
        self.zone_exits = Counter("sensorium_zone_exits_total", "Tracks that left a zone", ["source", "zone"], registry=r)
        self.line_crossings = Counter("sensorium_line_crossings_total", "Tracks that crossed a line, by direction (in, out)",
                                      ["source", "line", "direction"], registry=r)
        self._latencies: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=keep_samples))
        self._batches: dict[str, deque[int]] = defaultdict(lambda: deque(maxlen=keep_samples))
        self._overheads: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=keep_samples))
        self._emitted: dict[str, deque] = defaultdict(lambda: deque(maxlen=64))
        self.max_in_flight_seen = 0
        self._server = None

    def serve(self, port: int) -> int:
        """Expose /metrics on ``port`` (0 picks a free one); returns the port."""
        server, _thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        self._server = server
        return int(server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def observe_call(self, stage: str, per_frame_s: list[float], wall_s: float, compute_s: float) -> None:
        for s in per_frame_s:
            self.stage_latency.labels(stage).observe(s)
            self._latencies[stage].append(s)
        self.stage_batch.labels(stage).observe(len(per_frame_s))
        self._batches[stage].append(len(per_frame_s))
        overhead = max(wall_s - compute_s, 0.0)
        self.hop_overhead.labels(stage).observe(overhead)
        self._overheads[stage].append(overhead)

    def observe_in_flight(self, n: int) -> None:
        self.in_flight.set(n)
        self.max_in_flight_seen = max(self.max_in_flight_seen, n)

    def observe_emit(self, source: str, ok: bool) -> None:
        self.frames.labels(source, "ok" if ok else "error").inc()
        q = self._emitted[source]
        q.append(time.monotonic())
        if len(q) >= 2 and q[-1] > q[0]:
            self.fps.labels(source).set((len(q) - 1) / (q[-1] - q[0]))

    def observe_zones(self, source: str, counts: ZoneCounts) -> None:
        """A source's zone and line counts at one frame: the gauges set, the counters advanced
        by this frame's events."""
        for z in counts.zones:
            self.zone_tracks.labels(source, z.name).set(len(z.inside))
            self.zone_entries.labels(source, z.name).inc(len(z.entered_now))
            self.zone_exits.labels(source, z.name).inc(len(z.left_now))
        for ln in counts.lines:
            self.line_crossings.labels(source, ln.name, "in").inc(len(ln.crossed_in))
            self.line_crossings.labels(source, ln.name, "out").inc(len(ln.crossed_out))

    def stage_summary(self) -> dict[str, dict[str, float]]:
        """stage → p50/p95 latency ms, mean batch, mean overhead ms, calls."""
        out = {}
        for stage, lat in self._latencies.items():
            a = np.asarray(lat) * 1e3
            out[stage] = {
                "p50_ms": float(np.percentile(a, 50)),
                "p95_ms": float(np.percentile(a, 95)),
                "mean_batch": float(np.mean(self._batches[stage])),
                "overhead_ms": float(np.mean(self._overheads[stage]) * 1e3),
                "calls": len(self._batches[stage]),
            }
        return out
