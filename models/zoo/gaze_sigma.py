"""The gaze stage's sigma head: sensorium's own RLE model, trained by ``sensorium train gaze``.

Not a gaze network: a ``GazeRLEHead`` (two linear maps, no flow) on the gaze stage's per-face
features (``sensorium.stages.gaze.sigma.FEATURES``), trained with ``RLELoss`` on real faces with
held-out degradations, the geometric gaze of the clean frame as teacher. It outputs a correction
of the geometric (yaw, pitch) and sigma, the scale of the corrected estimate's error, radians.

Files: ``weights/gaze_sigma.onnx`` (the exported head, sha256 pinned here) and
``weights/gaze_sigma.json`` beside it: feature names, mean and std, the learned density's
predicted coverage and radii, held-out metrics and the command that made it. Importing this
module registers the weights as ``gaze_sigma``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sensorium.models.hub.weights import LocalPath, WeightsEntry, register_weights

WEIGHTS_NAME = "gaze_sigma"
WEIGHTS_FILE = Path(__file__).resolve().parent / "weights" / "gaze_sigma.onnx"
#: sha256 of the shipped file; updated whenever the head is retrained.
WEIGHTS_SHA256: str | None = "c3fdf422f049490519fa730715d0b28797120715ec456cc7b904c94a832525cc"


@dataclass(frozen=True)
class GazeSigmaMeta:
    """The head's contract (the JSON beside the .onnx): features (F,) names in input order;
    mean, std (F,) standardisation; order of the outputs' two coordinates; scale: radians per unit of
    the graph's outputs (the head trains in those units so its sigmoid sigma does not saturate); coverage: k -> the learned
    density's predicted share of errors with |error| <= k sigma on both coordinates; radius: p -> the
    k holding p; the rest (metrics, command) is provenance."""

    features: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    order: tuple[str, str]
    scale: float
    coverage: dict[str, float]
    radius: dict[str, float]
    extra: dict[str, Any]

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> "GazeSigmaMeta":
        keys = ("features", "mean", "std", "order", "scale", "coverage", "radius")
        missing = [k for k in keys if k not in values]
        if missing:
            raise ValueError(f"gaze sigma metadata: missing {missing}")
        mean, std = np.asarray(values["mean"], np.float32), np.asarray(values["std"], np.float32)
        if mean.shape != (len(values["features"]),) or std.shape != mean.shape or (std <= 0).any():
            raise ValueError(f"gaze sigma metadata: expected mean and positive std of {len(values['features'])} features, "
                             f"got {mean.shape} and {std.shape}")
        if not float(values["scale"]) > 0:
            raise ValueError(f"gaze sigma metadata: expected a positive scale, got {values['scale']!r}")
        return cls(tuple(values["features"]), mean, std, tuple(values["order"]), float(values["scale"]), dict(values["coverage"]),
                   dict(values["radius"]), {k: v for k, v in values.items() if k not in keys})


def meta_path(onnx_path: str | Path) -> Path:
    return Path(onnx_path).with_suffix(".json")


class GazeSigmaHead:
    """The head on onnxruntime: features (N, F) float32 -> (correction (N, 2), sigma (N, 2)) radians,
    (yaw, pitch). Raises ValueError when the file's features are not the ones the caller computes."""

    def __init__(self, path: str | Path, features: tuple[str, ...], *, providers: tuple[str, ...] = ("cpu",)) -> None:
        from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig

        self.meta = GazeSigmaMeta.from_json(json.loads(meta_path(path).read_text()))
        if self.meta.features != tuple(features):
            raise ValueError(f"{path}: trained on features {list(self.meta.features)}, the stage computes {list(features)}")
        self._model = OnnxModel(path, RuntimeConfig(providers=providers, warmup_runs=0), name=WEIGHTS_NAME)

    def __call__(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(features, np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.meta.features):
            raise ValueError(f"expected features (N, {len(self.meta.features)}), got {x.shape}")
        if not len(x):
            return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
        out = self._model.run([(x - self.meta.mean) / self.meta.std])
        k = self.meta.scale
        return np.asarray(out["mu"] * k, np.float32), np.asarray(out["sigma"] * k, np.float32)


register_weights(WeightsEntry(
    name=WEIGHTS_NAME,
    filename=WEIGHTS_FILE.name,
    sha256=WEIGHTS_SHA256,
    sources=(LocalPath(str(WEIGHTS_FILE)),),
    license="Apache-2.0 (sensorium's own model: trained by `sensorium train gaze` on the project's real test frames)",
    description="RLE sigma head of the gaze stage: per-face features -> (yaw, pitch) correction and sigma, radians; "
                "metadata and the command that made it in gaze_sigma.json",
    format="onnx",
))
