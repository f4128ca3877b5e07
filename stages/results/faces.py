"""Faces in one image: boxes, landmarks, quality, embeddings and matched identities."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sensorium.stages.results.items import Items
from sensorium.stages.results.registry import register


@register
@dataclass(frozen=True, eq=False)
class Faces(Items):
    """Faces in one image.

    boxes (N, 4) float32 xyxy pixels; scores (N,); landmarks (N, 5, 2) float32 pixels in the
    order right eye, left eye, nose tip, right mouth corner, left mouth corner (subject's
    right/left); quality (N,) float32 in [0, 1]; embeddings (N, D) float32 L2-normalised;
    similarity (N,) float32 to the matched gallery identity. ``data["identity"]`` holds the
    matched names (None when unknown).
    """

    kind: ClassVar[str] = "faces"
    SPEC: ClassVar = {
        "boxes": ((4,), np.float32, True),
        "scores": ((), np.float32, True),
        "landmarks": ((5, 2), np.float32, True),
        "quality": ((), np.float32, False),
        "embeddings": ((None,), np.float32, False),
        "similarity": ((), np.float32, False),
    }
    boxes: np.ndarray = None  # type: ignore[assignment]
    scores: np.ndarray = None  # type: ignore[assignment]
    landmarks: np.ndarray = None  # type: ignore[assignment]
    quality: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    similarity: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
