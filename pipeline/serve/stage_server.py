"""One perception stage as a Ray Serve deployment: requests from the ingress are batched
(``@serve.batch``, sizes from ``user_config``) and run through the same runner as ``run`` and
``batch`` (:func:`~sensorium.pipeline.runner.run_stage`): a frame in, that stage's Delta out.

A frame's result must not depend on its batch neighbours, so each Serve batch is split into
groups of equal (stage options, input shapes) and the stage is called once per group (DETR pads
a batch of mixed sizes to its largest image).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ray import serve

from sensorium.pipeline.perception import Perception, config_key
from sensorium.pipeline.runner import Delta, run_stage
from sensorium.stages.frame import Frame


@dataclass(frozen=True)
class Batching:
    """How a stage's replica gathers requests: at most max_batch_size frames per call, waiting
    at most batch_wait_timeout_s for the batch to fill."""

    max_batch_size: int = 8
    batch_wait_timeout_s: float = 0.01

    def __post_init__(self) -> None:
        if not 1 <= int(self.max_batch_size) <= 256:
            raise ValueError(f"max_batch_size: expected 1..256, got {self.max_batch_size}")
        if not 0.0 <= float(self.batch_wait_timeout_s) <= 10.0:
            raise ValueError(f"batch_wait_timeout_s: expected 0..10 seconds, got {self.batch_wait_timeout_s}")


@dataclass(frozen=True)
class StageCall:
    """One frame for one stage: the frame with earlier stages' results on it, and the stage's
    config for this request (validated by the ingress)."""

    frame: Frame
    config: Any


@dataclass(frozen=True)
class StageReply:
    """The stage's Delta for the frame, and the size of the stage call it ran in (metrics)."""

    delta: Delta
    batch_size: int


def group_key(call: StageCall, name: str) -> tuple:
    """Frames that may share one stage call: the same options and the same input shapes."""
    f = call.frame
    shapes = tuple(None if a is None else a.shape for a in (f.image, f.right, f.sensor_depth))
    return config_key(name, call.config), shapes, type(f.calib).__name__


class StageServer:
    """The replica's state: the stage ``name`` loaded with ``config`` at start (so a healthy
    replica has its model), and more instances, LRU, for requests with other options."""

    def __init__(self, name: str, config: Any, batching: dict | None = None, max_stages: int = 4) -> None:
        self.name, self.config = name, config
        self.stages = Perception(max_stages)
        self.stages.stage(name, config)  # load the model now: a replica is ready when it has it
        self.frames_computed = 0
        self.reconfigure(batching or {})

    def reconfigure(self, user_config: dict) -> None:
        """Serve calls this with the deployment's ``user_config`` (``{max_batch_size, batch_wait_timeout_s}``)."""
        b = Batching(**(user_config or {}))
        self.run.set_max_batch_size(int(b.max_batch_size))
        self.run.set_batch_wait_timeout_s(float(b.batch_wait_timeout_s))

    def ready(self) -> bool:
        """True: answered by a replica that loaded its model in its constructor."""
        return bool(self.stages.loaded())

    def computed(self) -> int:
        """Frames this replica has run its stage on (a request cancelled in the batch queue is not one)."""
        return self.frames_computed

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def run(self, calls: list[StageCall]) -> list[StageReply]:
        # compute off the replica's event loop: it keeps taking requests into the next batch
        return await asyncio.to_thread(self.compute, calls)

    def compute(self, calls: list[StageCall]) -> list[StageReply]:
        groups: OrderedDict[tuple, list[int]] = OrderedDict()
        for i, call in enumerate(calls):
            groups.setdefault(group_key(call, self.name), []).append(i)
        replies: list[StageReply | None] = [None] * len(calls)
        for members in groups.values():
            stage, lock = self.stages.stage(self.name, calls[members[0]].config)
            with lock:
                deltas, _ = run_stage(stage, [calls[i].frame for i in members])
            self.frames_computed += len(members)
            for i, delta in zip(members, deltas):
                replies[i] = StageReply(delta, len(members))
        return replies  # type: ignore[return-value]
