"""Our own pose sigma head (sensorium-trained, not MediaPipe's): an RLE head that reads what the
pose landmark model saw in a crop and returns, per keypoint coordinate, a correction to the
model's (x, y) and the scale sigma of the remaining error.

Features (all from one run of the converted ``pose_landmark_full`` graph, :func:`crop_features`):

* the 288-channel map the model's regression heads read (``relu6__558``, 2x2), global-pooled:
  an extra graph output added by :func:`feature_graph`; it carries how the crop looks to the model;
* per keypoint, the model's own 64x64 heatmap (``Identity_3``, which MediaPipe's graph uses only to
  refine): the sigmoid mass in a 7x7 window around the regressed point, its weighted centre's offset
  from the regressed point (and its absolute value), its spread and its peak. Where heatmap and
  regression disagree, or the heatmap is flat, the regression is likely off: the single most
  informative cue about error;
* the visibility and presence logits of each keypoint, the pose-presence logit, and log of the
  crop's side in image pixels (a small person is an upscaled, blurrier crop).

Coordinates are the crop's normalised ones, ``crop_px / 256 - 0.5``, as the RLE paper's. The head
ships as ONNX (two Linear maps and a sigmoid) with a JSON beside it recording its input contract
(features' version, count, mean and std to standardise them with), the calibration of the learned density
(``predicted_coverage`` at 1 and 2 sigma, the flow itself is not shipped), the held-out numbers,
and the exact command that made it. Importing this module registers the weights ``pose_sigma_rle``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sensorium.models.hub.weights import LocalPath, WeightsEntry, register_weights

WEIGHTS_NAME = "pose_sigma_rle"
WEIGHTS_FILE = Path(__file__).resolve().parent / "weights" / "pose_sigma_rle.onnx"
CONFIG_FILE = WEIGHTS_FILE.with_suffix(".json")
#: sha256 of the shipped file; updated whenever the head is retrained.
WEIGHTS_SHA256: str | None = "0d14309525aab448e3d07e2304cf1e3c5d235431c8009800f033e792dc9cf8ee"

CROP_SIZE = 256  # the pose landmark model's input
NUM_KEYPOINTS = 33
FEATURE_TENSOR = "relu6__558"  # (B, 288, 2, 2): the map the converted graph's three heads read
FEATURE_CHANNELS = 288
POOLED_OUTPUT = "pooled_features"
HEATMAP_OUTPUT = "Identity_3"  # (B, 64, 64, 39) heatmap logits
HEATMAP_WINDOW = 7  # MediaPipe's RefineLandmarksFromHeatmap kernel
PER_KEYPOINT = 8  # dx, dy, |dx|, |dy|, spread, peak, visibility logit, presence logit
NUM_FEATURES = FEATURE_CHANNELS + NUM_KEYPOINTS * PER_KEYPOINT + 2
FEATURES_VERSION = 1
LOGIT_CLIP = 20.0
FEATURE_CLIP = 5.0  # standardised features are clipped to +-this: one odd crop must not swing a linear head


#: the converted graph's outputs the pose stage reads (``Identity_2``, the 256x256 segmentation
#: mask, is not one: 59 of the graph's 227 nodes and all five resizes feed only it)
STAGE_OUTPUTS = ("Identity", "Identity_1", "Identity_3", "Identity_4")


def feature_graph(src: str | Path) -> Path:
    """The converted pose landmark graph ``src`` as the stage runs it: one more output,
    ``pooled_features`` (B, 288) (``relu6__558`` global-average-pooled), and without the segmentation
    mask nobody reads (per person ~1.7x faster on CPU: docs/benchmarks.md, "Landmark models").
    Written once beside ``src`` (``<stem>.stage.onnx``). Raises ValueError when ``src`` has no
    such tensor (another conversion, another model)."""
    import onnx
    from onnx import helper
    from onnx.utils import extract_model

    src = Path(src)
    dst = src.with_name(src.stem + ".stage.onnx")
    if dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime:
        return dst
    model = onnx.load(str(src))
    produced = {o for n in model.graph.node for o in n.output}
    if FEATURE_TENSOR not in produced:
        raise ValueError(f"{src.name}: expected the pose landmark graph with tensor {FEATURE_TENSOR!r} "
                         f"(our converter's pose_landmark_full), not found")
    model.graph.node.extend([
        helper.make_node("GlobalAveragePool", [FEATURE_TENSOR], ["pooled_features_4d"]),
        helper.make_node("Flatten", ["pooled_features_4d"], [POOLED_OUTPUT], axis=1),
    ])
    model.graph.output.append(helper.make_tensor_value_info(POOLED_OUTPUT, onnx.TensorProto.FLOAT, ["N", FEATURE_CHANNELS]))
    full = dst.with_suffix(".full.tmp")
    tmp = dst.with_suffix(".tmp")
    onnx.save(model, str(full))
    try:
        extract_model(str(full), str(tmp), [i.name for i in model.graph.input], [*STAGE_OUTPUTS, POOLED_OUTPUT])
    finally:
        full.unlink(missing_ok=True)
    tmp.replace(dst)
    return dst


def _heatmap_stats(heatmaps: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """heatmaps (B, 64, 64, >=33) logits, xy (B, 33, 2) crop pixels -> (B, 33, 6): dx, dy, |dx|, |dy|,
    spread (normalised crop units) and peak of the sigmoid heatmap in a 7x7 window around each point."""
    b, hh, hw = heatmaps.shape[:3]
    stride = CROP_SIZE / hw
    half = HEATMAP_WINDOW // 2
    offs = np.arange(-half, half + 1)
    cx = np.floor(xy[..., 0] / stride).astype(np.int64)  # (B, K)
    cy = np.floor(xy[..., 1] / stride).astype(np.int64)
    gx = np.clip(cx[..., None, None] + offs[None, None, None, :], 0, hw - 1)  # (B, K, 1, W)
    gy = np.clip(cy[..., None, None] + offs[None, None, :, None], 0, hh - 1)  # (B, K, W, 1)
    gx, gy = np.broadcast_arrays(gx, gy)
    bi = np.arange(b)[:, None, None, None]
    ki = np.arange(NUM_KEYPOINTS)[None, :, None, None]
    logits = heatmaps[bi, gy, gx, ki].astype(np.float64)  # (B, K, W, W)
    prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -LOGIT_CLIP, LOGIT_CLIP)))
    mass = prob.sum(axis=(2, 3)) + 1e-9
    px, py = (gx + 0.5) * stride, (gy + 0.5) * stride
    mx, my = (prob * px).sum(axis=(2, 3)) / mass, (prob * py).sum(axis=(2, 3)) / mass
    var = (prob * ((px - mx[..., None, None]) ** 2 + (py - my[..., None, None]) ** 2)).sum(axis=(2, 3)) / mass
    dx, dy = (mx - xy[..., 0]) / CROP_SIZE, (my - xy[..., 1]) / CROP_SIZE
    return np.stack([dx, dy, np.abs(dx), np.abs(dy), np.sqrt(var) / CROP_SIZE, prob.max(axis=(2, 3))], axis=-1)


def crop_features(landmarks: np.ndarray, pose_flag: np.ndarray, heatmaps: np.ndarray, pooled: np.ndarray,
                  side_px: np.ndarray) -> np.ndarray:
    """One run's raw outputs for B crops -> (B, NUM_FEATURES) float32 features for the head.

    landmarks: (B, 195) ``Identity`` (39 x (x, y, z, visibility logit, presence logit), crop pixels);
    pose_flag: (B, 1) ``Identity_1`` presence probability; heatmaps: (B, 64, 64, 39) ``Identity_3``;
    pooled: (B, 288) ``pooled_features``; side_px: (B,) each crop's side in image pixels.
    """
    b = len(landmarks)
    if landmarks.shape != (b, 195) or heatmaps.shape[0] != b or pooled.shape != (b, FEATURE_CHANNELS) or np.shape(side_px) != (b,):
        raise ValueError(f"expected landmarks (B, 195), heatmaps (B, 64, 64, 39), pooled (B, {FEATURE_CHANNELS}), side_px (B,), "
                         f"got {landmarks.shape}, {heatmaps.shape}, {pooled.shape}, {np.shape(side_px)}")
    raw = landmarks.reshape(b, 39, 5)[:, :NUM_KEYPOINTS]
    stats = _heatmap_stats(heatmaps, raw[..., :2])
    logits = np.clip(raw[..., 3:5], -LOGIT_CLIP, LOGIT_CLIP)
    per_kp = np.concatenate([stats, logits], axis=-1).reshape(b, -1)  # (B, 33 * 8)
    p = np.clip(np.asarray(pose_flag, np.float64).reshape(b), 1e-6, 1 - 1e-6)
    extra = np.stack([np.log(p / (1 - p)), np.log(np.maximum(np.asarray(side_px, np.float64), 1.0) / CROP_SIZE)], axis=1)
    return np.concatenate([pooled, per_kp, extra], axis=1).astype(np.float32)


@dataclass(frozen=True)
class SigmaHeadInfo:
    """What the JSON beside the head says: its input contract (features version and count, the
    mean and std that standardise them), its learned density's predicted coverage of the k-sigma
    box (k -> probability) and the k holding probability p (p -> k; the flow itself is not shipped:
    a consumer wanting "the 95 % region" uses ``coverage_radius["0.95"] * sigma``), and how it was made and measured."""

    features_version: int
    num_features: int
    feature_mean: np.ndarray
    feature_std: np.ndarray
    predicted_coverage: dict[str, float]
    coverage_radius: dict[str, float]
    command: str
    metrics: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> "SigmaHeadInfo":
        """Read and check the JSON at ``path``; ValueError naming what does not match this code's features."""
        d = json.loads(Path(path).read_text())
        info = cls(int(d["features_version"]), int(d["num_features"]), np.asarray(d["feature_mean"], np.float32),
                   np.asarray(d["feature_std"], np.float32), {str(k): float(v) for k, v in d["predicted_coverage"].items()},
                   {str(k): float(v) for k, v in d.get("coverage_radius", {}).items()}, str(d["command"]), dict(d.get("metrics", {})))
        if info.features_version != FEATURES_VERSION or info.num_features != NUM_FEATURES \
                or info.feature_mean.shape != (NUM_FEATURES,) or info.feature_std.shape != (NUM_FEATURES,):
            raise ValueError(f"{path}: expected a head for features version {FEATURES_VERSION} ({NUM_FEATURES} features), got "
                             f"version {info.features_version} ({info.num_features}, mean {info.feature_mean.shape}); retrain it")
        return info

    def standardise(self, features: np.ndarray) -> np.ndarray:
        """(B, F) raw features -> (B, F) float32 standardised (and clipped) as the head was trained."""
        return np.clip((features - self.feature_mean) / self.feature_std, -FEATURE_CLIP, FEATURE_CLIP).astype(np.float32)


register_weights(WeightsEntry(
    name=WEIGHTS_NAME,
    filename=WEIGHTS_FILE.name,
    sha256=WEIGHTS_SHA256,
    sources=(LocalPath(str(WEIGHTS_FILE)),),
    license="Apache-2.0 (trained by sensorium: RLE head on MediaPipe pose landmark features, teacher the same model on clean frames)",
    description="sensorium's own pose sigma head: features of pose_landmark_full (pooled map, heatmap stats, logits) -> "
                "(correction, sigma) per keypoint coordinate in normalised crop units; made by `sensorium train pose` (command in the JSON)",
    input_size=None, format="onnx",
))
