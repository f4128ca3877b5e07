"""The one stage runner: rebuild the frames a stage receives, run it, return what it added.

Both engines call :func:`run_stage` inside their actors (the stream engine's ``StageWorker``,
the batch engine's ``map_batches`` actor), so a stage runs the same way live and over a
collection. Between stages only :class:`Delta` objects travel (a stage's result, error and
time), never the images or earlier results again, and never JSON: results become JSON once,
where they leave the engine (a sink, the batch job's Parquet writer). No Ray here, so either
engine can use it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

from sensorium.stages.base import Stage
from sensorium.stages.frame import Frame


@dataclass(frozen=True)
class Delta:
    """What one stage added to one frame: its result, its error, its time (any may be None)."""

    stage: str
    result: Any = None
    error: str | None = None
    seconds: float | None = None

    def apply(self, frame: Frame) -> Frame:
        if self.result is not None:
            frame.results[self.stage] = self.result
        if self.error is not None:
            frame.errors[self.stage] = self.error
        if self.seconds is not None:
            frame.timings[self.stage] = self.seconds
        return frame


@dataclass(frozen=True)
class CallStatus:
    """What a driver needs of one stage call for its metrics: the call's compute seconds, each
    frame's seconds and each frame's error (None where it has none)."""

    compute_s: float
    per_frame_s: list[float]
    errors: list[str | None]


def rebuild(frames: Sequence[Frame], deltas: Sequence[Sequence[Delta]]) -> list[Frame]:
    """Each frame with the deltas the stages before added to it applied, in order."""
    if len(frames) != len(deltas):
        raise ValueError(f"expected one list of deltas per frame, got {len(deltas)} for {len(frames)} frames")
    for frame, ds in zip(frames, deltas):
        for delta in ds:
            delta.apply(frame)
    return list(frames)


def run_stage(stage: Stage, frames: Sequence[Frame]) -> tuple[list[Delta], CallStatus]:
    """Run ``stage`` on rebuilt ``frames``: one Delta per frame, in order, and the call's status."""
    start = time.perf_counter()
    out = stage(frames)
    compute = time.perf_counter() - start
    name = stage.name
    deltas = [Delta(name, f.results.get(name), f.errors.get(name), f.timings.get(name)) for f in out]
    per_frame = compute / max(len(out), 1)
    status = CallStatus(compute, [f.timings.get(name, per_frame) for f in out], [d.error for d in deltas])
    return deltas, status
