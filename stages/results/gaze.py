"""Gaze directions of N faces, with their uncertainty."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sensorium.stages.results.items import Items
from sensorium.stages.results.registry import register


@register
@dataclass(frozen=True, eq=False)
class Gaze(Items):
    """Gaze of N faces: yaw_pitch (N, 2) float32 radians (camera frame), sigma (N, 2) radians
    (None where no trained head gave one; never invented),
    origin (N, 2) float32 pixels (between the eyes)."""

    kind: ClassVar[str] = "gaze"
    SPEC: ClassVar = {
        "yaw_pitch": ((2,), np.float32, True),
        "sigma": ((2,), np.float32, False),
        "origin": ((2,), np.float32, False),
    }
    yaw_pitch: np.ndarray = None  # type: ignore[assignment]
    sigma: np.ndarray | None = None
    origin: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def vectors(self) -> np.ndarray:
        """(N, 3) unit gaze vectors, camera frame (X right, Y down, Z forward; looking at the camera is -Z)."""
        yaw, pitch = self.yaw_pitch[:, 0], self.yaw_pitch[:, 1]
        return np.stack([-np.cos(pitch) * np.sin(yaw), -np.sin(pitch), -np.cos(pitch) * np.cos(yaw)], axis=1).astype(np.float32)
