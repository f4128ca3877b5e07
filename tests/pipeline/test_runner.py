"""The one stage runner both engines use: rebuild frames from deltas, run, return one delta each."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.runner import CallStatus, Delta, rebuild, run_stage
from sensorium.stages.base import Stage
from sensorium.stages.frame import Frame
from sensorium.stages.results import Embeddings


class Brightness(Stage):
    """Mean brightness per frame; refuses all-black images."""

    name = "runner-brightness"

    def process(self, frames):
        if any(not f.image.any() for f in frames):
            raise ValueError("all-black image")
        return [Embeddings(vectors=[[float(f.image.mean())]]) for f in frames]


class Doubled(Stage):
    """Needs the brightness result: checks that the runner rebuilt the frame with it."""

    name = "runner-doubled"
    requires = ("runner-brightness",)

    def process(self, frames):
        return [Embeddings(vectors=f.results["runner-brightness"].vectors * 2) for f in frames]


def _frames(values):
    return [Frame("a", i, image=np.full((4, 4, 3), v, np.uint8)) for i, v in enumerate(values)]


def test_two_stages_chain_through_deltas_only():
    first, second = Brightness(), Doubled()
    deltas1, status1 = run_stage(first, _frames([10, 0, 30]))
    assert [d.stage for d in deltas1] == ["runner-brightness"] * 3
    assert deltas1[1].result is None and "all-black image" in deltas1[1].error and "a#1" in deltas1[1].error
    assert isinstance(status1, CallStatus) and len(status1.per_frame_s) == 3 and status1.compute_s >= 0
    assert [e is None for e in status1.errors] == [True, False, True]
    # fresh frames, as the next actor receives them: only the admitted frame plus the deltas
    frames = rebuild(_frames([10, 0, 30]), [[d] for d in deltas1])
    deltas2, status2 = run_stage(second, frames)
    assert float(deltas2[0].result.vectors[0, 0]) == 20.0 and float(deltas2[2].result.vectors[0, 0]) == 60.0
    assert "needs the 'runner-brightness' result (runner-brightness failed" in deltas2[1].error
    assert status2.errors[1] == deltas2[1].error


def test_rebuild_applies_every_delta_in_order():
    (frame,) = rebuild(_frames([5]), [[Delta("x", Embeddings(vectors=[[1.0]]), seconds=0.5), Delta("y", error="a#0: y: broke")]])
    assert set(frame.results) == {"x"} and frame.errors == {"y": "a#0: y: broke"} and frame.timings == {"x": 0.5}


def test_rebuild_refuses_deltas_that_do_not_match_the_frames():
    with pytest.raises(ValueError, match="one list of deltas per frame, got 1 for 2 frames"):
        rebuild(_frames([1, 2]), [[]])
