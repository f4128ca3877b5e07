"""The trained pose sigma head at inference: its ONNX graph and the JSON contract beside it.

Absent file -> no head (the stage's sigma is None, never invented); a file made for other
features -> a clear error naming the mismatch, rather than sigma that means nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from sensorium.models.zoo.pose_sigma import SigmaHeadInfo

log = logging.getLogger(__name__)


class SigmaHead:
    """``head(features)`` (B, F) raw crop features -> (mu (B, 33, 2) correction, sigma (B, 33, 2)),
    float32, normalised crop units."""

    def __init__(self, path: str | Path, runtime) -> None:
        from sensorium.models.hub.runtime import OnnxModel

        path = Path(path)
        self.info = SigmaHeadInfo.load(path.with_suffix(".json"))
        self.model = OnnxModel(path, runtime, name="pose_sigma")

    def __call__(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self.model.run({"features": self.info.standardise(features)})
        return out["mu"], out["sigma"]


def load_sigma_head(name: str | None, runtime) -> SigmaHead | None:
    """The registered head ``name`` (sha256-checked), or None when ``name`` is None or its file is absent."""
    if name is None:
        return None
    import sensorium.models.zoo.pose_sigma  # noqa: F401 - registers pose_sigma_rle
    from sensorium.models.hub.weights import WeightsNotFoundError, resolve

    try:
        path = resolve(name)
    except WeightsNotFoundError as exc:
        log.warning("pose: no sigma head (%s); keypoints carry sigma None", exc)
        return None
    return SigmaHead(path, runtime)
