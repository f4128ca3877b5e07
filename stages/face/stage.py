"""The ``face`` stage: detect (YuNet on onnxruntime), align (5-point similarity), assess quality,
recognise (dlib ResNet or a user's ArcFace ONNX) and identify against a gallery.

Every step is batched over the whole batch of frames: one detector session call per canvas
size (frames are grouped so that none is padded beyond its own canvas: its faces do not
depend on its neighbours), one recogniser call for all their faces. A frame
is a batch of one when live. InsightFace's ``FaceAnalysis`` runs each model face by face.

Result per frame: :class:`~sensorium.stages.results.Faces` with boxes, scores, landmarks,
quality, embeddings and similarity; ``data`` holds ``identity`` (None: unknown; no forced
match), ``low_quality``, ``size``, ``blur``, ``yaw``, ``roll``, ``align_matrix`` (N, 2, 3)
image → chip, and ``chip`` (the aligned crops) when ``keep_chips`` (default off).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from sensorium.models.hub.runtime import Provider
from sensorium.stages.base import Stage
from sensorium.stages.batching import map_grouped
from sensorium.stages.config import StageConfig
from sensorium.stages.images import as_rgb
from sensorium.stages.face.align import ARCFACE_112, align_faces
from sensorium.stages.face.quality import QualityConfig, assess
from sensorium.stages.face.recognize import Recognizer, RecognizerSpec, build_recognizer
from sensorium.stages.frame import Frame
from sensorium.stages.results import Faces

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceConfig(StageConfig):
    """detector: registered weights name (``yunet_s``, ``yunet_n``) or an ``.onnx`` path.
    max_side: images are downscaled (never up) so the longer side is at most this before
    detection; raise it for small faces in large frames. score_threshold/nms_threshold/top_k:
    as OpenCV's FaceDetectorYN. recognizer: ``dlib``, ``onnx`` (needs recognizer_path) or
    ``none`` (detect and align only). threshold: identification similarity (None: the
    backend's calibrated default). gallery: SQLite gallery file, None for no identification.
    identify_low_quality: also name faces flagged low quality (off: a profile or blurred face
    stays unknown, since that is where strangers score closest to enrolled people).
    keep_chips: put the aligned crops on the result (``data["chip"]``; the JSONL sink writes them
    as PNG files beside its lines, never inside them); off by default, since no stage reads them
    and 112x112x3 bytes per face dwarf the rest of a result. max_pixels: larger frames are refused."""

    detector: str = "yunet_s"
    max_side: int = 640
    score_threshold: float = 0.7
    nms_threshold: float = 0.3
    top_k: int = 100
    recognizer: Literal["dlib", "onnx", "none"] = "dlib"
    recognizer_path: str | None = None
    threshold: float | None = None
    gallery: str | None = None
    match_top_k: int = 3
    identify_low_quality: bool = False
    quality: QualityConfig = field(default_factory=QualityConfig)
    keep_chips: bool = False
    max_pixels: int = 100_000_000
    providers: tuple[Provider, ...] = ("cpu",)
    threads: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 32 <= self.max_side <= 8192:
            raise ValueError(f"max_side: expected 32..8192, got {self.max_side}")
        if not 0.0 <= self.score_threshold <= 1.0 or not 0.0 < self.nms_threshold <= 1.0:
            raise ValueError(f"expected score_threshold in [0, 1] and nms_threshold in (0, 1], got {self.score_threshold}, {self.nms_threshold}")
        if self.recognizer == "onnx" and not self.recognizer_path:
            raise ValueError("recognizer 'onnx' needs recognizer_path (an ArcFace-style .onnx with a 112x112 input)")
        if self.gallery and self.recognizer == "none":
            raise ValueError("a gallery needs a recognizer (got recognizer='none')")
        if self.top_k < 1 or self.match_top_k < 1 or self.threads < 0:
            raise ValueError(f"expected top_k >= 1, match_top_k >= 1, threads >= 0; got {self.top_k}, {self.match_top_k}, {self.threads}")


def letterbox_canvas(h: int, w: int, max_side: int) -> tuple[int, int]:
    """The (Hp, Wp) canvas YuNet's ``letterbox_batch`` gives an (h, w) image alone: longer side
    scaled down to ``max_side`` (never up), each side padded to a multiple of 32."""
    from sensorium.models.arch.yunet import padded

    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        h, w = max(1, round(h * scale)), max(1, round(w * scale))
    return padded(h), padded(w)


def _file_key(path: str | Path) -> str:
    from sensorium.models.hub.files import sha256_file

    return sha256_file(path)[:16]


class FaceStage(Stage):
    name = "face"
    Config = FaceConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._detector = None
        self._recognizer: Recognizer | None = None
        self._gallery = None
        self.backend_key: str | None = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        from sensorium.models.hub.weights import status

        st = status("yunet_s")
        if not st.present:
            return False, f"YuNet weights: {st.detail}"
        return True, ""

    # --- set-up ---------------------------------------------------------------------------
    def setup(self) -> None:
        if self._detector is not None:
            return
        from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig
        from sensorium.models.arch.yunet import dynamic_yunet_file

        c = self.config
        self._detector = OnnxModel(dynamic_yunet_file(c.detector), RuntimeConfig(providers=c.providers, intra_op_threads=c.threads or None, warmup_runs=0), name="yunet")
        if c.recognizer != "none":
            spec = RecognizerSpec(c.recognizer, c.recognizer_path, c.threshold)
            self._recognizer = build_recognizer(spec, providers=c.providers, threads=c.threads or None)
            self.backend_key = "dlib" if c.recognizer == "dlib" else f"onnx:{_file_key(c.recognizer_path)}"
        if c.gallery:
            from sensorium.stages.face.gallery import FaceGallery

            self._gallery = FaceGallery(c.gallery, read_only=True)

    @property
    def recognizer(self) -> Recognizer | None:
        self.setup()
        return self._recognizer

    # --- compute --------------------------------------------------------------------------
    def detect(self, images_rgb: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per image (boxes (N, 4) xyxy, landmarks (N, 5, 2), scores (N,)) float32 in its own pixels.

        One detector run per canvas size: a frame letterboxed onto a larger neighbour's canvas
        gets other boxes (the CNN sees the extra padding), so frames only share a run, and a
        canvas, with frames that would have had that canvas alone (:mod:`sensorium.stages.batching`)."""
        self.setup()
        if not images_rgb:
            return []
        keys = [letterbox_canvas(img.shape[0], img.shape[1], self.config.max_side) for img in images_rgb]
        return map_grouped(list(images_rgb), keys, self._detect_same_canvas)

    def _detect_same_canvas(self, images_rgb: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        from sensorium.models.arch.yunet import decode, letterbox_batch, nms_faces

        c = self.config
        batch, boxes = letterbox_batch([np.ascontiguousarray(img[..., ::-1]) for img in images_rgb], c.max_side)
        assert batch.shape[2:] == letterbox_canvas(*images_rgb[0].shape[:2], c.max_side), "canvas rule out of step with letterbox_batch"
        out = self._detector.run({self._detector.inputs[0].name: batch})
        all_b, all_k, all_s = decode(out, batch.shape[2], batch.shape[3])
        result = []
        for i, lb in enumerate(boxes):
            keep = nms_faces(all_b[i], all_s[i], score_threshold=c.score_threshold, nms_threshold=c.nms_threshold, top_k=c.top_k)
            b = all_b[i][keep] / lb.scale
            b[:, [0, 2]] = b[:, [0, 2]].clip(0, lb.width)
            b[:, [1, 3]] = b[:, [1, 3]].clip(0, lb.height)
            result.append((b.astype(np.float32), (all_k[i][keep] / lb.scale).astype(np.float32), all_s[i][keep].astype(np.float32)))
        return result

    def analyze(self, images: Sequence[np.ndarray]) -> list[Faces]:
        """Faces for RGB uint8 images (grayscale and RGBA accepted), one :class:`Faces` per image."""
        self.setup()
        c = self.config
        rgb = [as_rgb(img, name=f"image {i}") for i, img in enumerate(images)]
        for i, img in enumerate(rgb):
            if img.shape[0] * img.shape[1] > c.max_pixels:
                raise ValueError(f"image {i}: {img.shape[1]}x{img.shape[0]} is above max_pixels = {c.max_pixels}")
        detections = self.detect(rgb)
        template = self._recognizer.template if self._recognizer is not None else ARCFACE_112
        per_image = []
        for img, (boxes, lms, scores) in zip(rgb, detections):
            chips, mats = align_faces(img, lms, template)
            per_image.append((chips, mats, assess(boxes, lms, chips, c.quality)))
        embeddings: list[np.ndarray | None] = [None] * len(rgb)
        if self._recognizer is not None:
            all_chips = np.concatenate([p[0] for p in per_image]) if per_image else np.zeros((0, template.size, template.size, 3), np.uint8)
            emb = self._recognizer.embed(all_chips)  # one call for every face of the batch
            splits = np.cumsum([len(p[0]) for p in per_image])[:-1]
            embeddings = list(np.split(emb, splits))
        snapshot = self._gallery.snapshot(self.backend_key) if self._gallery is not None else None
        results = []
        for (boxes, lms, scores), (chips, mats, q), emb in zip(detections, per_image, embeddings):
            data: dict[str, np.ndarray] = {
                "low_quality": q.low_quality, "size": q.size, "blur": q.blur, "yaw": q.yaw, "roll": q.roll,
                "align_matrix": mats.astype(np.float32),
            }
            if c.keep_chips:
                data["chip"] = chips
            similarity = None
            if snapshot is not None and emb is not None:
                matches = snapshot.match(emb, self._recognizer.threshold, c.match_top_k)
                names = [None if (low and not c.identify_low_quality) else m.name for m, low in zip(matches, q.low_quality)]
                data["identity"] = np.array(names, dtype=object)
                similarity = np.array([m.similarity for m in matches], np.float32)
            meta = {"template": template.name}
            if self._recognizer is not None:
                meta.update(recognizer=self.backend_key, threshold=self._recognizer.threshold)
            if snapshot is not None:
                meta["gallery_identities"] = len(snapshot)
            results.append(Faces(boxes=boxes, scores=scores, landmarks=lms, quality=q.quality, embeddings=emb,
                                 similarity=similarity, data=data, metadata=meta))
        return results

    def check(self, frame: Frame) -> None:
        super().check(frame)
        h, w = frame.image.shape[:2]
        if h * w > self.config.max_pixels:
            raise ValueError(f"image {w}x{h} is above max_pixels = {self.config.max_pixels}; downscale it or raise face.max_pixels")

    def process(self, frames: Sequence[Frame]) -> list[Faces]:
        return self.analyze([f.image for f in frames])

    @classmethod
    def batch_defaults(cls) -> dict[str, Any]:
        """No aligned crops (112x112x3 per face): they suit a live stream's next stage, but as
        JSON in every Parquet row they dwarf the results."""
        return {"keep_chips": False}
