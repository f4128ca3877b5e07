"""Object detection with the trained DETR, on onnxruntime, lifted to 3D when depth is known.

Pre-processing is DETR's reference: resize so the shorter side is ``min_size`` (the longer one
capped at ``max_size``), ImageNet-normalise. Frames are run in groups of equal resized
shape, so no frame is padded and each gets exactly its single-frame detections whatever its
batch neighbours (:mod:`sensorium.stages.batching`); :func:`preprocess` can still pad a mixed
batch with a padding mask (training). The exported graph maps (images, mask) to
raw (logits, boxes); :func:`from_detr` turns those into :class:`Detections` in each frame's own
pixels. When an earlier ``depth`` result is on the frame, boxes get xyz/extent from
:func:`~sensorium.stages.detect.lift3d.lift_detections`.

Huge inputs: an image is resized straight from uint8 to the model's size, so memory stays
bounded by the model's input, not the frame's; frames above ``max_pixels`` (default 100 MP)
are refused with a clear error rather than spending seconds on a frame nothing asked for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Sequence

import cv2
import numpy as np

from sensorium.models.hub.runtime import Provider
from sensorium.stages.base import Stage
from sensorium.stages.batching import map_grouped
from sensorium.stages.config import StageConfig
from sensorium.stages.frame import Frame
from sensorium.stages.images import as_rgb
from sensorium.stages.detect.lift3d import LiftConfig, lift_detections
from sensorium.stages.results import Depth, Detections

log = logging.getLogger(__name__)

#: ImageNet's mean/std x 255, DETR's reference: only the default of :func:`preprocess`; the
#: stage passes its weights' own (``WeightsEntry.mean``/``std``)
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class DetectConfig(StageConfig):
    """weights: registered weights name (the shipped ``detr_spp_shapes``, or a public one such as
    ``detr-r50-coco``, fetched by ``sensorium models pull``, which wants min_size 800, max_size
    1333) or a path to a trained or imported ``.pt`` (with its ``.json``).
    onnx: an already exported graph of those weights; None exports once into the weights cache.
    min_size/max_size: resize so the shorter side is min_size, the longer at most max_size;
    None (the default): the weights' own, from their contract (the shipped model 192/320, a
    public or imported DETR 800/1333, :mod:`sensorium.models.zoo.detr_contract`); a value set
    here wins. score_threshold: keep detections at or
    above it; max_detections: at most this many per frame, best first. max_pixels: frames
    above it are refused. providers/threads: onnxruntime execution (threads 0: its default).
    precision: ``fp32`` or ``int8`` (matrix products dynamically quantised: faster on CPU, mAP
    within a point of fp32 on the shipped model, docs/benchmarks.md).
    lift3d: fill xyz/extent from an earlier ``depth`` result when there is one (skipped when
    that depth has no focal length, i.e. uncalibrated stereo)."""

    weights: str = "detr_spp_shapes"
    onnx: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    score_threshold: float = 0.5
    max_detections: int = 100
    max_pixels: int = 100_000_000
    providers: tuple[Provider, ...] = ("cpu",)
    threads: int = 0
    precision: Literal["fp32", "int8"] = "fp32"
    lift3d: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.threads < 0:
            raise ValueError(f"threads: expected >= 0 (0 = onnxruntime's default), got {self.threads}")
        check_resize(self.min_size, self.max_size)
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ValueError(f"score_threshold: expected a value in [0, 1], got {self.score_threshold}")
        if self.max_detections < 1 or self.max_pixels < 1:
            raise ValueError(f"expected max_detections >= 1 and max_pixels >= 1, got {self.max_detections}, {self.max_pixels}")


def check_resize(min_size: int | None, max_size: int | None) -> None:
    """Raise unless 16 <= min_size <= max_size (either may be None: the weights' own, checked when known)."""
    if (min_size is not None and min_size < 16) or (max_size is not None and max_size < (min_size or 16)):
        raise ValueError(f"expected 16 <= min_size <= max_size, got min_size={min_size}, max_size={max_size}")


def resized_shape(h: int, w: int, min_size: int, max_size: int) -> tuple[int, int]:
    """(H', W') with the shorter side ``min_size`` and the longer at most ``max_size`` (DETR)."""
    scale = min_size / min(h, w)
    if max(h, w) * scale > max_size:
        scale = max_size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def preprocess(images: Sequence[np.ndarray], *, min_size: int, max_size: int, max_pixels: int = 100_000_000,
               mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 images (H_i, W_i, 3) → (batch (B, 3, H, W) float32 normalised as
    ``(x - mean) / std`` per RGB channel (x in [0, 255]), mask (B, H, W) bool, True at
    padding); each image resized by :func:`resized_shape` and placed top-left, H and W the
    batch's largest."""
    if not images:
        raise ValueError("preprocess: expected at least one image")
    resized = []
    for i, img in enumerate(images):
        img = as_rgb(img, name=f"image {i}")
        h, w = img.shape[:2]
        if h * w > max_pixels:
            raise ValueError(f"image {i}: {w}x{h} = {h * w / 1e6:.0f} MP is above max_pixels = {max_pixels / 1e6:.0f} MP; "
                             "downscale it first or raise max_pixels")
        nh, nw = resized_shape(h, w, min_size, max_size)
        shrink = nh * nw < h * w
        resized.append(cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR) if (nh, nw) != (h, w) else img)
    m, sd = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    bh, bw = max(r.shape[0] for r in resized), max(r.shape[1] for r in resized)
    batch = np.zeros((len(resized), 3, bh, bw), np.float32)
    mask = np.ones((len(resized), bh, bw), bool)
    for i, r in enumerate(resized):
        batch[i, :, : r.shape[0], : r.shape[1]] = ((r.astype(np.float32) - m) / sd).transpose(2, 0, 1)
        mask[i, : r.shape[0], : r.shape[1]] = False
    return batch, mask


def from_detr(logits: np.ndarray, boxes: np.ndarray, sizes: Sequence[tuple[int, int]], class_names: Sequence[str],
              *, score_threshold: float = 0.5, max_detections: int = 100) -> list[Detections]:
    """DETR's raw outputs → one :class:`Detections` per image, in that image's pixels.

    logits: (B, Q, K+1) float32, no-object last; boxes: (B, Q, 4) float32 cx, cy, w, h in [0, 1]
    of the unpadded image; sizes: (H, W) of each original image. Score = the best real class's
    softmax probability; boxes are xyxy pixels clipped to the image, best score first.
    """
    if logits.shape[:2] != boxes.shape[:2] or len(sizes) != logits.shape[0]:
        raise ValueError(f"expected logits (B, Q, K+1), boxes (B, Q, 4) and B sizes, got {logits.shape}, {boxes.shape}, {len(sizes)}")
    z = logits - logits.max(-1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(-1, keepdims=True)
    prob = prob[..., :-1]  # drop no-object
    out = []
    for b, (h, w) in enumerate(sizes):
        scores = prob[b].max(-1)
        labels = prob[b].argmax(-1)
        order = np.argsort(-scores, kind="stable")
        order = order[scores[order] >= score_threshold][:max_detections]
        cx, cy, bw, bh = boxes[b, order].T
        xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1) * np.array([w, h, w, h], np.float32)
        xyxy = np.clip(xyxy, 0, [w, h, w, h]).astype(np.float32)
        out.append(Detections(boxes=xyxy, scores=scores[order].astype(np.float32), class_id=labels[order].astype(np.int64),
                              class_names=tuple(class_names)))
    return out


def to_coco(dets: Detections, image_id: int, *, category_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """COCO result dicts (``loadRes`` format) for one image: ``{"image_id", "category_id",
    "bbox": [x, y, w, h] pixels, "score"}``. ``category_ids[class_id]`` maps classes to COCO
    category ids (default: class_id + 1, COCO ids being 1-based)."""
    out = []
    for (x1, y1, x2, y2), s, c in zip(dets.boxes.tolist(), dets.scores.tolist(), dets.class_id.tolist()):
        cat = int(category_ids[c]) if category_ids is not None else int(c) + 1
        out.append({"image_id": int(image_id), "category_id": cat, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(s)})
    return out


def lift_to_depth(dets: Detections, depth: Depth, image_shape: tuple[int, int]) -> Detections:
    """``lift_detections`` for boxes in image pixels when the depth map may have another
    resolution (boxes are scaled into it; the returned boxes stay in image pixels)."""
    h, w = image_shape
    dh, dw = depth.depth.shape
    if (dh, dw) == (h, w):
        return lift_detections(dets, depth, LiftConfig())
    scaled = replace(dets, boxes=(dets.boxes * np.array([dw / w, dh / h, dw / w, dh / h], np.float32)).astype(np.float32))
    lifted = lift_detections(scaled, depth, LiftConfig())
    return replace(lifted, boxes=dets.boxes)


#: what the shipped detector knows, said once per process when it runs (stage set-up)
SHIPPED_NOTE = ("detect: the shipped detector {name!r} is trained on generated shapes only ({classes}) and finds those, "
                "not people, cars or other real objects; for COCO's 80 classes pass --set detect.weights=detr-r50-coco "
                "(`sensorium models pull detr-r50-coco` fetches it), for your own classes weights fine-tuned with "
                "`sensorium train detect --data instances.json`")
_noted: set[str] = set()


def shipped_weights_note(weights: str) -> str | None:
    """:data:`SHIPPED_NOTE` for the shipped weights, None for any other (a user's own)."""
    from sensorium.models.hub.weights import get_weights

    if weights != DetectConfig.weights:
        return None
    return SHIPPED_NOTE.format(name=weights, classes=", ".join(get_weights(weights).labels))


def note_shipped_weights(weights: str) -> str | None:
    """Log :func:`shipped_weights_note` as a warning the first time this process runs the
    shipped weights (not again per actor call or per frame); the note, or None."""
    note = shipped_weights_note(weights)
    if note and weights not in _noted:
        _noted.add(weights)
        log.warning(note)
    return note


class DetectStage(Stage):
    """Frames → ``Detections`` (DETR on onnxruntime; 3D when a ``depth`` result is present)."""

    name = "detect"
    requires = ()
    Config = DetectConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._model = None
        self._labels: tuple[str, ...] = ()
        self._norm: dict[str, tuple[float, ...]] = {}
        #: (min_size, max_size) in use: the config's where set, else the weights' (known after setup)
        self.resize: tuple[int, int] = (0, 0)

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Available when the default weights are on disk (they ship in the repository); looked up
        without importing torch, so the command line can ask before Ray starts."""
        from sensorium.models.hub.weights import WeightsNotFoundError, resolve

        try:
            resolve(DetectConfig.weights)
        except (WeightsNotFoundError, ValueError) as exc:
            return False, str(exc)
        return True, ""

    def setup(self) -> None:
        if self._model is not None:
            return
        from sensorium.models.zoo.detr_contract import contract_for_weights
        from sensorium.models.zoo.detr_shapes import onnx_for_weights
        from sensorium.models.zoo.importers.prepared import prepare
        from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig

        c = self.config
        note_shipped_weights(c.weights)
        weights = prepare(c.weights)  # a public checkpoint (detr-r50-coco) imported once into the cache
        contract = contract_for_weights(weights)  # the weights' normalisation and size, not constants here
        self.resize = (c.min_size or contract.min_size, c.max_size or max(contract.max_size, c.min_size or 0))
        check_resize(*self.resize)
        path, self._labels = onnx_for_weights(weights, c.onnx, precision=c.precision)
        self._norm = {"mean": contract.mean, "std": contract.std}
        self._model = OnnxModel(path, RuntimeConfig(providers=self.config.providers, intra_op_threads=self.config.threads or None, warmup_runs=0),
                                name="detect")

    def detect(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detections for RGB uint8 images (grayscale and RGBA accepted), one per image, in its pixels."""
        self.setup()
        images = [as_rgb(img, name=f"image {i}") for i, img in enumerate(images)]
        if not images:
            return []
        # one model run per resized shape: padding a frame beside a larger one changes its
        # detections (the backbone's GroupNorm and convolutions see the padding), see stages.batching
        keys = [resized_shape(*img.shape[:2], *self.resize) for img in images]
        return map_grouped(images, keys, self._detect_same_size)

    def _detect_same_size(self, images: list[np.ndarray]) -> list[Detections]:
        """:meth:`detect` for images whose resized shapes are equal: one run, no padding."""
        c = self.config
        batch, mask = preprocess(images, min_size=self.resize[0], max_size=self.resize[1], max_pixels=c.max_pixels, **self._norm)
        out = self._model.run({"images": batch, "mask": mask})
        return from_detr(out["logits"], out["boxes"], [img.shape[:2] for img in images], self._labels,
                         score_threshold=c.score_threshold, max_detections=c.max_detections)

    def check(self, frame: Frame) -> None:
        super().check(frame)
        h, w = frame.image.shape[:2]
        if h * w > self.config.max_pixels:
            raise ValueError(f"{w}x{h} image ({h * w / 1e6:.0f} MP) is above max_pixels = {self.config.max_pixels / 1e6:.0f} MP; "
                             "downscale it at the source or raise detect.max_pixels")

    def process(self, frames: Sequence[Frame]) -> list[Detections]:
        results = self.detect([f.image for f in frames])
        if not self.config.lift3d:
            return results
        out = []
        for frame, dets in zip(frames, results):
            depth = frame.results.get("depth")
            if isinstance(depth, Depth) and len(dets) and np.isfinite(depth.K[0, 0]):
                dets = lift_to_depth(dets, depth, frame.image.shape[:2])
            out.append(dets)
        return out
