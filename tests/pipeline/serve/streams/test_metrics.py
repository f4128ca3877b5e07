"""The per-stream collector: Prometheus text from the manager's stream statuses, a deleted
stream's series gone, and a failing snapshot never failing the scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sensorium.pipeline.serve.streams.metrics import StreamsCollector


def _status(sid: str, state: str = "running") -> dict:
    return {"id": sid, "state": state, "fps": 7.5, "frames": 30, "drops": 2, "reconnects": 1, "errors": {"source": 3, "face": 1},
            "latency": {"buckets": [0.1, 1.0], "counts": [20, 9, 1], "sum": 4.0}}


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_each_stream_has_its_series():
    streams = [_status("s-1"), _status("s-2", "reconnecting")]
    registry = CollectorRegistry()
    registry.register(StreamsCollector(lambda: streams))
    got = _samples(registry)
    assert got[("sensorium_stream_frames_total", (("stream", "s-1"),))] == 30
    assert got[("sensorium_stream_fps", (("stream", "s-1"),))] == 7.5
    assert got[("sensorium_stream_dropped_frames_total", (("stream", "s-2"),))] == 2
    assert got[("sensorium_stream_reconnects_total", (("stream", "s-2"),))] == 1
    assert got[("sensorium_stream_state", (("state", "reconnecting"), ("stream", "s-2")))] == 1
    assert got[("sensorium_stream_state", (("state", "running"), ("stream", "s-2")))] == 0
    assert got[("sensorium_stream_errors_total", (("kind", "source"), ("stream", "s-1")))] == 3
    # histogram buckets are cumulative, +Inf holds every frame
    assert got[("sensorium_stream_latency_seconds_bucket", (("le", "0.1"), ("stream", "s-1")))] == 20
    assert got[("sensorium_stream_latency_seconds_bucket", (("le", "1.0"), ("stream", "s-1")))] == 29
    assert got[("sensorium_stream_latency_seconds_bucket", (("le", "+Inf"), ("stream", "s-1")))] == 30
    assert got[("sensorium_stream_latency_seconds_sum", (("stream", "s-1"),))] == 4.0
    streams.pop(0)  # deleted: its series go with it
    assert not any(dict(labels).get("stream") == "s-1" for _, labels in _samples(registry))


def test_a_failing_snapshot_leaves_the_scrape_answering():
    def broken() -> list:
        raise ConnectionError("streams deployment unreachable")

    registry = CollectorRegistry()
    registry.register(StreamsCollector(broken))
    assert "sensorium_stream_frames" in generate_latest(registry).decode()
