"""Embedding vectors of whole images or crops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sensorium.stages.results.items import Items
from sensorium.stages.results.registry import register


@register
@dataclass(frozen=True, eq=False)
class Embeddings(Items):
    """N embedding vectors (N, D) float32, L2-normalised; ``boxes`` (N, 4) when they embed crops
    (None for whole images); ``model`` names the model that produced them (vectors from
    different models are not comparable)."""

    kind: ClassVar[str] = "embeddings"
    SPEC: ClassVar = {
        "vectors": ((None,), np.float32, True),
        "boxes": ((4,), np.float32, False),
    }
    vectors: np.ndarray = None  # type: ignore[assignment]
    boxes: np.ndarray | None = None
    model: str = ""
    data: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
