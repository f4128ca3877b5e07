"""Face recognisers: aligned chips → L2-normalised embeddings, one batched call per batch.

Two backends behind one interface (``template``, ``dim``, ``threshold``, ``embed(chips)``):

- ``dlib``: dlib's 128-d ResNet (``dlib_face_recognition_resnet_model_v1.dat``, CC0, from the
  PyPI package face-recognition-models) on 150x150 chips aligned to :data:`DLIB_150`.
- ``onnx``: any ArcFace-style ONNX model a user supplies (112x112 RGB chips aligned to
  :data:`ARCFACE_112`, ``(x - 127.5) / 127.5``, NCHW → (N, D)), through the models core's
  onnxruntime session.

Similarity is the cosine of the normalised embeddings; a match needs similarity >= threshold,
per backend. dlib's authors use Euclidean distance 0.6 on its raw descriptors. Their norms on
the bundled real photos are 1.37-1.52 (median 1.45), and for two vectors of norm n a distance
d is a cosine of 1 - d^2 / (2 n^2): 0.6 is cosine 0.915 on unit vectors, our default. Measured
on those photos (docs/benchmarks.md, Faces): same-person pairs 0.936-0.967, different people
at most 0.897 (raw distances: same 0.38-0.50, different >= 0.67). ArcFace models' usual
verification threshold is cosine 0.3-0.4; 0.35 is the default there, and a user's own model
should be calibrated on their faces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from sensorium.stages.face.align import ARCFACE_112, DLIB_150, Template


class Recognizer(Protocol):
    template: Template
    dim: int
    threshold: float

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 RGB chips aligned to ``template`` → (N, dim) float32, unit L2 norm."""


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _check_chips(chips: np.ndarray, template: Template) -> np.ndarray:
    c = np.asarray(chips)
    s = template.size
    if c.ndim != 4 or c.shape[1:] != (s, s, 3) or c.dtype != np.uint8:
        raise ValueError(f"expected (N, {s}, {s}, 3) uint8 chips aligned to {template.name}, got {c.shape} {c.dtype}")
    return c


class DlibRecognizer:
    """dlib's face recognition ResNet; ``path`` defaults to the registered weights."""

    template = DLIB_150
    dim = 128
    DEFAULT_THRESHOLD = 0.915

    def __init__(self, path: str | Path | None = None, *, threshold: float | None = None) -> None:
        import dlib

        if path is None:
            from sensorium.models.hub.weights import resolve

            path = resolve("dlib_face_recognition_resnet_v1")
        if not Path(path).is_file():
            raise FileNotFoundError(f"dlib face recognition model not found: {path}")
        self._net = dlib.face_recognition_model_v1(str(path))
        self.threshold = self.DEFAULT_THRESHOLD if threshold is None else float(threshold)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        c = _check_chips(chips, self.template)
        if len(c) == 0:
            return np.zeros((0, self.dim), np.float32)
        # dlib's batch overload: a list of already aligned chips, one forward pass
        desc = self._net.compute_face_descriptor([np.ascontiguousarray(x) for x in c])
        return l2_normalize(np.array([np.asarray(d) for d in desc], np.float32))


class OnnxArcFace:
    """An ArcFace-style ONNX model: (N, 3, 112, 112) float32 in [-1, 1] RGB → (N, D)."""

    template = ARCFACE_112
    DEFAULT_THRESHOLD = 0.35

    def __init__(self, path: str | Path, *, threshold: float | None = None, providers: tuple[str, ...] = ("cpu",), threads: int | None = None) -> None:
        from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig

        self._model = OnnxModel(path, RuntimeConfig(providers=providers, intra_op_threads=threads, warmup_runs=0), name="arcface")
        if len(self._model.inputs) != 1 or len(self._model.outputs) < 1:
            raise ValueError(f"{path}: expected one input (N, 3, 112, 112) and an embedding output, got {self._model}")
        shape = self._model.inputs[0].shape
        if len(shape) != 4 or tuple(shape[1:]) not in ((3, 112, 112),):
            raise ValueError(f"{path}: expected input (N, 3, 112, 112), got {shape}")
        out_shape = self._model.outputs[0].shape
        self.dim = int(out_shape[-1]) if isinstance(out_shape[-1], int) else 512
        self._fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.threshold = self.DEFAULT_THRESHOLD if threshold is None else float(threshold)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        c = _check_chips(chips, self.template)
        if len(c) == 0:
            return np.zeros((0, self.dim), np.float32)
        x = ((c.astype(np.float32) - 127.5) / 127.5).transpose(0, 3, 1, 2)
        name = self._model.outputs[0].name
        if self._fixed_batch == 1:  # many published ArcFace exports fix the batch at 1
            out = np.concatenate([self._model.run(x[i: i + 1], [name])[name] for i in range(len(x))])
        else:
            out = self._model.run(x, [name])[name]
        return l2_normalize(out.reshape(len(c), -1))


@dataclass(frozen=True)
class RecognizerSpec:
    """backend ``dlib`` or ``onnx``; path: the model file (dlib: default registered weights;
    onnx: required); threshold None: the backend's calibrated default."""

    backend: str = "dlib"
    path: str | None = None
    threshold: float | None = None


def build_recognizer(spec: RecognizerSpec, *, providers: tuple[str, ...] = ("cpu",), threads: int | None = None) -> Recognizer:
    if spec.backend == "dlib":
        return DlibRecognizer(spec.path, threshold=spec.threshold)
    if spec.backend == "onnx":
        if not spec.path:
            raise ValueError("recognizer backend 'onnx' needs a model path (an ArcFace-style .onnx, 112x112 input)")
        return OnnxArcFace(spec.path, threshold=spec.threshold, providers=providers, threads=threads)
    raise ValueError(f"unknown recognizer backend {spec.backend!r}; expected 'dlib' or 'onnx'")
