"""Objects found in one image (boxes, scores, classes; 3D when lifted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sensorium.stages.results.items import Items
from sensorium.stages.results.registry import register


@register
@dataclass(frozen=True, eq=False)
class Detections(Items):
    """Objects found in one image.

    boxes: (N, 4) float32 ``x1, y1, x2, y2`` in input-image pixels. scores: (N,) float32 in
    [0, 1]. class_id: (N,) int64 into ``class_names``. xyz/extent (optional, from 3D lifting):
    (N, 3) float32 metres in the camera frame (X right, Y down, Z forward); xyz_spread (N, 3)
    is the robust spread (MAD-based sigma) of the depth samples behind each box.
    """

    kind: ClassVar[str] = "detections"
    SPEC: ClassVar = {
        "boxes": ((4,), np.float32, True),
        "scores": ((), np.float32, True),
        "class_id": ((), np.int64, True),
        "xyz": ((3,), np.float32, False),
        "extent": ((3,), np.float32, False),
        "xyz_spread": ((3,), np.float32, False),
    }
    boxes: np.ndarray = None  # type: ignore[assignment]
    scores: np.ndarray = None  # type: ignore[assignment]
    class_id: np.ndarray = None  # type: ignore[assignment]
    xyz: np.ndarray | None = None
    extent: np.ndarray | None = None
    xyz_spread: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "class_names", tuple(self.class_names))
