"""Shared inputs of the result-container tests."""

from __future__ import annotations

import numpy as np

from sensorium.stages.results import Detections

rng = np.random.default_rng(0)


def detections(n: int = 3) -> Detections:
    return Detections(
        boxes=rng.uniform(0, 100, (n, 4)), scores=rng.uniform(0, 1, n), class_id=np.arange(n),
        class_names=("a", "b", "c"), data={"track": np.arange(n) + 10, "label": np.array(["x"] * n, dtype=object)},
        metadata={"model": "detr", "size": [640, 480]},
    )
