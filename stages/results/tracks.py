"""The tracks of one source alive at one frame (multi-object tracking)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sensorium.stages.results.items import Items
from sensorium.stages.results.registry import register

#: ``state`` values: seen this frame, or carried by its motion model through a miss
TRACKED, LOST = 0, 1


@register
@dataclass(frozen=True, eq=False)
class Tracks(Items):
    """The tracks of one source alive at one frame, one row per track.

    track_id (N,) int64, unique per source for the whole run and never reused. boxes (N, 4)
    float32 ``x1, y1, x2, y2`` image pixels: the filtered box at this frame. scores (N,)
    float32 and class_id (N,) int64 from the matched item (the last one while lost).
    state (N,) int64: ``TRACKED`` (matched this frame) or ``LOST`` (predicted through a miss).
    item (N,) int64: the index of the matched item in the tracked result this frame
    (``of`` names it: "detect", "face"), -1 while lost. age (N,) int64: frames since the track
    was born. velocity_px (N, 2) float32 pixels per second of the box centre.
    xyz / velocity (N, 3) float32: metres and metres per second in the camera frame, when the
    tracked items carried 3-D positions (depth ran); trajectory (N, T, 3) float32 the last T
    positions (NaN-padded, oldest first). name (N,) object: a face track's identity, voted
    over the track (None when unknown); in ``data`` so other kinds leave it out.
    """

    kind: ClassVar[str] = "tracks"
    SPEC: ClassVar = {
        "track_id": ((), np.int64, True),
        "boxes": ((4,), np.float32, True),
        "scores": ((), np.float32, True),
        "class_id": ((), np.int64, True),
        "state": ((), np.int64, True),
        "item": ((), np.int64, True),
        "age": ((), np.int64, True),
        "velocity_px": ((2,), np.float32, False),
        "xyz": ((3,), np.float32, False),
        "velocity": ((3,), np.float32, False),
        "trajectory": ((None, 3), np.float32, False),
    }
    track_id: np.ndarray = None  # type: ignore[assignment]
    boxes: np.ndarray = None  # type: ignore[assignment]
    scores: np.ndarray = None  # type: ignore[assignment]
    class_id: np.ndarray = None  # type: ignore[assignment]
    state: np.ndarray = None  # type: ignore[assignment]
    item: np.ndarray = None  # type: ignore[assignment]
    age: np.ndarray = None  # type: ignore[assignment]
    velocity_px: np.ndarray | None = None
    xyz: np.ndarray | None = None
    velocity: np.ndarray | None = None
    trajectory: np.ndarray | None = None
    of: str = ""
    class_names: tuple[str, ...] = ()
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "class_names", tuple(self.class_names))
        if len(np.unique(self.track_id)) != len(self.track_id):
            raise ValueError(f"Tracks: track ids must be unique, got {self.track_id.tolist()}")
