"""Keypoints of N instances, each with its predicted uncertainty."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sensorium.stages.results.items import Items
from sensorium.stages.results.registry import register


@register
@dataclass(frozen=True, eq=False)
class Keypoints(Items):
    """Keypoints of N instances, each with its own uncertainty (RLE heads).

    xy (N, K, 2) float32 pixels; sigma (N, K, 2) float32 pixels (the predicted scale of the
    residual distribution, not a heuristic) or None where no trained head gave one (never
    invented); scores (N, K) float32 visibility/confidence;
    boxes (N, 4) optional instance boxes.
    """

    kind: ClassVar[str] = "keypoints"
    SPEC: ClassVar = {
        "xy": ((None, 2), np.float32, True),
        "sigma": ((None, 2), np.float32, False),
        "scores": ((None,), np.float32, False),
        "boxes": ((4,), np.float32, False),
    }
    xy: np.ndarray = None  # type: ignore[assignment]
    sigma: np.ndarray | None = None
    scores: np.ndarray | None = None
    boxes: np.ndarray | None = None
    names: tuple[str, ...] = ()
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sigma is not None and self.xy.shape != self.sigma.shape:
            raise ValueError(f"Keypoints: xy {self.xy.shape} and sigma {self.sigma.shape} differ")
        object.__setattr__(self, "names", tuple(self.names))
