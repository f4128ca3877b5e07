"""The two RLE models of the #13 study, shipped: keypoints of rendered figures, gaze of rendered eyes.

Our own small models, trained on generated data only (models/data/figures.py, eyes.py) by
``pipeline/tools/rle_study.py``; the command, the budget and the held-out numbers are in the JSON
beside each ONNX file. Each graph maps ``images`` (B, 64, 64, 3) float32 RGB in [0, 1] (NHWC,
what ``models/arch/mediapipe/iris.preprocess`` gives for eye crops) to ``mu`` and ``sigma``:

- ``rle_figures_keypoints``: (B, 14, 2) each, (x, y) in the crop's normalised coordinates
  ([-0.5, 0.5] across; pixels = (mu + 0.5) * 64), keypoints ``models/data/figures.KEYPOINTS``;
- ``rle_eyes_gaze``: (B, 2) each, (yaw, pitch) radians of the subject's right eye in the crop's
  frame (``models/data/eyes.gaze_vector``; a left eye is mirrored first, its yaw negated after).

sigma is a *scale*: the region holding probability p is |x - mu| <= radius(p) * sigma per
coordinate, radius from the learned flow density, tabulated in the JSON (``coverage_radius``) so
a stage needs no flow at inference. Importing this module registers both weights names.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sensorium.models.hub.files import sha256_file
from sensorium.models.hub.weights import LocalPath, WeightsEntry, register_weights
from sensorium.models.rle import calibration as cal

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: weights name -> (task, file stem)
MODELS = {"rle_figures_keypoints": ("figures", "rle_figures"), "rle_eyes_gaze": ("eyes", "rle_eyes")}
#: sha256 of the shipped ONNX files; updated whenever the study is rerun with --ship
SHA256: dict[str, str | None] = {
    "rle_figures_keypoints": "6ee9d0df0778ddc18b96a859949a578f8a9699968be92d614b2892ac981837f7",
    "rle_eyes_gaze": "c538043d2ec68574d2b7da7fb5b8a8e2dacb095b50d95646decc87475b0977f1",
}
#: the p values whose region radii the JSON tabulates
RADIUS_PS = tuple(sorted(set(cal.RELIABILITY_PS + (cal.ONE_SIGMA, cal.TWO_SIGMA))))
INPUT_NAME, OUTPUT_NAMES = "images", ("mu", "sigma")


def onnx_path(name: str) -> Path:
    """The shipped ONNX file of a weights name in :data:`MODELS`."""
    if name not in MODELS:
        raise ValueError(f"expected one of {sorted(MODELS)}, got {name!r}")
    return WEIGHTS_DIR / f"{MODELS[name][1]}.onnx"


def load_meta(name: str) -> dict[str, Any]:
    """The JSON beside the ONNX file: contract, ``coverage_radius`` table ({p: k}), command, results."""
    path = onnx_path(name).with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: rerun `python -m sensorium.pipeline.tools.rle_study --ship {WEIGHTS_DIR}`")
    return json.loads(path.read_text())


def radius_for(meta: dict[str, Any], p: float) -> float:
    """k(p) of the learned density from the tabulated radii (linear between tabulated p)."""
    table = sorted((float(q), float(k)) for q, k in meta["coverage_radius"].items())
    qs, ks = zip(*table)
    if not qs[0] <= p <= qs[-1]:
        raise ValueError(f"p: expected within the tabulated [{qs[0]}, {qs[-1]}], got {p}")
    return float(np.interp(p, qs, ks))


class _Exported(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, sigma = self.model(images)
        return mu, sigma


def _export(model: torch.nn.Module, path: Path) -> None:
    example = (torch.rand(2, 64, 64, 3),)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(_Exported(model).eval(), example, dynamo=True, opset_version=18,
                                    input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                                    dynamic_shapes=({0: "batch"},), optimize=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    program.save(tmp, external_data=False)
    os.replace(tmp, path)


def _parity(model: torch.nn.Module, path: Path) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch in (1, 3):
        x = torch.rand(batch, 64, 64, 3, generator=torch.Generator().manual_seed(batch))
        with torch.inference_mode():
            expected = model(x)
        got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x.numpy()})
        worst = max(worst, *(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected)))
    if worst > 1e-4:
        raise ValueError(f"{path.name}: onnxruntime differs from torch by {worst}")
    return worst


def export_rle_model(model: torch.nn.Module, radii: dict[float, float], config: Any, ship_dir: Path,
                     results: dict[str, Any], command: str) -> Path:
    """Write ``<ship_dir>/rle_<task>.onnx`` (parity-checked against torch at batch 1 and 3) and its
    JSON: contract, ``radii`` ({p: k} of the learned density's p-regions, :data:`RADIUS_PS` at
    least), training config, command, results."""
    name = next(n for n, (task, _) in MODELS.items() if task == config.task)
    ship_dir.mkdir(parents=True, exist_ok=True)
    path = ship_dir / f"{MODELS[name][1]}.onnx"
    model = model.eval().cpu()
    _export(model, path)
    meta = {
        "name": name, "task": config.task, "trained_by": "sensorium (our own model, generated data only)",
        "input": "images (B, 64, 64, 3) float32 RGB in [0, 1], NHWC",
        "outputs": ("mu, sigma (B, 14, 2): x, y normalised to [-0.5, 0.5] of the crop" if config.task == "figures"
                    else "mu, sigma (B, 2): yaw, pitch radians of the subject's right eye (yaw > 0 toward +x, pitch > 0 up)"),
        "coverage_radius": {f"{p:.4f}": float(k) for p, k in sorted(radii.items())},
        "onnx_parity_max_abs": _parity(model, path), "sha256": sha256_file(path),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(config).items()},
        "command": command, "held_out": results, "license": "Apache-2.0",
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return path


for _name, (_task, _stem) in MODELS.items():
    register_weights(WeightsEntry(
        name=_name, filename=f"{_stem}.onnx", sha256=SHA256[_name], sources=(LocalPath(str(WEIGHTS_DIR / f"{_stem}.onnx")),),
        license="Apache-2.0 (trained by sensorium on its generated data)",
        description=f"RLE head on a small CNN trained on generated {_task} (pipeline/tools/rle_study.py); mu and sigma, "
                    f"calibration radii in the JSON beside it",
        input_size=(64, 64), format="onnx",
    ))
