"""The in-process backend of ``serve --local``: readiness means the named stages' models are
loaded, results are the in-process Perception's, and each stage's time and batch reach the registry."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from sensorium.pipeline.io.images import read_image
from sensorium.pipeline.perception import FrameInputs, Perception
from sensorium.pipeline.serve.local import LocalPerception


def test_ready_after_load_and_metrics_per_stage(data_dir):
    backend = LocalPerception(["detect"])
    assert asyncio.run(backend.ready()) == {"detect": False}
    backend.load()
    assert asyncio.run(backend.ready()) == {"detect": True}
    registry = CollectorRegistry()
    backend.register_metrics(registry)
    image = read_image(data_dir / "photos" / "bus.jpg")
    frame = asyncio.run(backend.perceive(FrameInputs(image), ["detect"]))
    want = Perception().perceive(image, ["detect"])
    assert frame.results["detect"] == want.results["detect"] and not frame.errors
    assert registry.get_sample_value("sensorium_stage_batch_size_count", {"stage": "detect"}) == 1
    assert registry.get_sample_value("sensorium_stage_seconds_sum", {"stage": "detect"}) > 0
