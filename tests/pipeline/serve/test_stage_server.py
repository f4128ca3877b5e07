"""A stage deployment's replica state outside Serve: a Serve batch of mixed image sizes and
options is split into groups, so each frame's result equals its single-frame result, and the
reported batch size is the stage call the frame ran in."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.io.images import read_image
from sensorium.pipeline.serve.stage_server import StageCall, StageServer
from sensorium.stages.base import build_config, build_stage
from sensorium.stages.frame import Frame


def test_a_mixed_batch_gives_each_frame_its_single_frame_result(data_dir):
    bus, zidane = (read_image(data_dir / "photos" / n) for n in ("bus.jpg", "zidane.jpg"))
    plain, strict = build_config("detect", {}), build_config("detect", {"score_threshold": 0.9})
    server = StageServer("detect", plain, {"max_batch_size": 8})
    calls = [StageCall(Frame("r", i, image=img), cfg) for i, (img, cfg) in enumerate([(bus, plain), (zidane, plain), (bus, plain), (bus, strict)])]
    replies = server.compute(calls)
    assert [r.batch_size for r in replies] == [2, 1, 2, 1]  # (bus, plain) twice together; the rest alone
    for call, reply in zip(calls, replies):
        stage = build_stage("detect", call.config)
        (alone,) = stage([Frame("a", 0, image=call.frame.image)])
        want, got = alone.results["detect"], reply.delta.result
        assert reply.delta.stage == "detect" and reply.delta.error is None
        np.testing.assert_allclose(got.boxes, want.boxes, rtol=1e-5, atol=1e-3)
    assert len(replies[3].delta.result) <= len(replies[0].delta.result)  # the stricter threshold keeps fewer


@pytest.mark.parametrize("batching, match", [
    ({"max_batch_size": 0}, "max_batch_size: expected 1..256, got 0"),
    ({"batch_wait_timeout_s": -1}, "batch_wait_timeout_s: expected 0..10 seconds"),
    ({"max_batch": 4}, "max_batch"),
])
def test_bad_batching_is_refused_naming_the_key(batching, match):
    server = StageServer.__new__(StageServer)  # reconfigure alone: no model loaded for a config check
    with pytest.raises((ValueError, TypeError), match=match):
        server.reconfigure(batching)
