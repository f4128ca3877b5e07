"""The ``embed`` stage: CLIP/SigLIP image embeddings (whole frame and each detection's crop),
text embeddings and zero-shot labels, on onnxruntime.

The model comes from open_clip (:mod:`sensorium.models.arch.clip`); its two towers are exported to
ONNX once (parity-checked against open_clip) and served by the models core's runtime. With
named weights the graphs are cached by the weights file's sha256; random-init models (tests)
are exported per stage instance. Pre-processing is open_clip's: shorter side to the model's
size (bicubic), centre crop, mean/std. Zero-shot scores follow each family's training
objective: CLIP a softmax over the labels, SigLIP an independent sigmoid per label.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import cv2
import numpy as np

from sensorium.models.hub.runtime import Provider
from sensorium.stages.base import Stage
from sensorium.stages.config import StageConfig
from sensorium.stages.images import as_rgb
from sensorium.stages.frame import Frame
from sensorium.stages.results import Embeddings


@dataclass(frozen=True)
class EmbedConfig(StageConfig):
    """model: open_clip architecture name (e.g. ViT-B-32, ViT-B-16-SigLIP) or, with
    ``config_json``, None for a custom (small) config. family: clip or siglip. weights: a local
    checkpoint, a registered open_clip tag (``clip-vit-b-32-laion2b``: ``sensorium models pull``)
    or a ``.pt`` from ``sensorium models import open_clip``, whose JSON names the architecture and
    family (model/family/config_json are then ignored). crops: also embed
    each earlier ``detect`` box. labels: zero-shot label names, scored with ``prompt``."""

    model: str | None = "ViT-B-32"
    family: Literal["clip", "siglip"] = "clip"
    weights: str | None = None
    config_json: str | None = None
    crops: bool = True
    min_crop: int = 8
    labels: tuple[str, ...] = ()
    prompt: str = "a photo of a {}."
    providers: tuple[Provider, ...] = ("cpu",)
    threads: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if "{}" not in self.prompt:
            raise ValueError(f"prompt must contain '{{}}' for the label, got {self.prompt!r}")
        if self.model is not None and self.config_json is None and self.weights is None:
            raise ValueError(f"embed: no weights for {self.model!r}: pass weights=PATH (a local open_clip checkpoint); "
                             "no CLIP/SigLIP weights ship with sensorium and nothing is downloaded")


def preprocess(images: Sequence[np.ndarray], size: tuple[int, int], mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """RGB uint8 images → (B, 3, H, W) float32: shorter side to the model size (bicubic),
    centre crop, ``(x / 255 - mean) / std`` — open_clip's eval transform."""
    h, w = size
    m = np.asarray(mean, np.float32).reshape(1, 1, 3)
    s = np.asarray(std, np.float32).reshape(1, 1, 3)
    out = np.zeros((len(images), 3, h, w), np.float32)
    for i, img in enumerate(images):
        ih, iw = img.shape[:2]
        scale = max(h / ih, w / iw)
        nh, nw = max(h, round(ih * scale)), max(w, round(iw * scale))
        r = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        y, x = (nh - h) // 2, (nw - w) // 2
        out[i] = ((r[y: y + h, x: x + w].astype(np.float32) / 255.0 - m) / s).transpose(2, 0, 1)
    return out


def _imported_contract(weights: str | None) -> dict[str, Any] | None:
    """The JSON an importer wrote beside ``weights`` (``sensorium models import open_clip``), or None."""
    meta = Path(weights).with_suffix(".json") if weights is not None else None
    if meta is None or not meta.is_file():
        return None
    contract = json.loads(meta.read_text())
    return contract if contract.get("source", {}).get("layout") == "open_clip" else None


class EmbedStage(Stage):
    name = "embed"
    Config = EmbedConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._image = self._text = None
        self.meta: dict[str, Any] = {}
        self._label_vectors: np.ndarray | None = None
        self._family = self.config.family

    @classmethod
    def available(cls) -> tuple[bool, str]:
        # no CLIP/SigLIP weights ship with sensorium: it runs when asked for, with weights
        return False, "needs an open_clip checkpoint: --stages embed --set embed.weights=PATH"

    def setup(self) -> None:
        if self._image is not None:
            return
        import torch

        from sensorium.models.arch.clip import ClipSpec, build_clip, export_towers
        from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig
        from sensorium.models.hub.weights import default_cache_dir, sha256_file

        from sensorium.models.zoo.importers.prepared import prepare

        c = self.config
        weights = prepare(c.weights) if c.weights is not None else None  # a registered public tag: imported once
        contract = _imported_contract(weights)
        if contract is not None:  # an imported checkpoint says its own architecture and family
            model_name, config, self._family = contract["model"], contract["config"], contract["family"]
        else:
            config = json.loads(Path(c.config_json).read_text()) if c.config_json else None
            model_name, self._family = None if config else c.model, c.family
        spec = ClipSpec(model=model_name, family=self._family, weights=weights, config=config)
        self.key = spec.key
        if c.weights is None:
            torch.manual_seed(0)  # a random-init model is reproducible across workers
        model, meta = build_clip(spec)
        with torch.no_grad():
            meta["logit_scale"] = float(model.logit_scale.exp())
            meta["logit_bias"] = float(model.logit_bias) if getattr(model, "logit_bias", None) is not None else 0.0
        # graphs are cached by what determines them: the weights file, or for a random init
        # (seeded above) the config and the torch version that drew it
        source = sha256_file(weights) if weights is not None else f"random-seed0-torch{torch.__version__}"
        tag = hashlib.sha256((source + spec.key + self._family).encode()).hexdigest()[:16]
        folder = default_cache_dir() / f"clip-{tag}"
        if not ((folder / "image.onnx").is_file() and (folder / "text.onnx").is_file()):
            export_towers(model, meta, folder)
        rc = RuntimeConfig(providers=c.providers, intra_op_threads=c.threads or None, warmup_runs=0)
        self._image = OnnxModel(folder / "image.onnx", rc, name="clip-image")
        self._text = OnnxModel(folder / "text.onnx", rc, name="clip-text")
        self._tokenizer = self._make_tokenizer(spec, meta)
        self.meta = meta
        if c.labels:
            self._label_vectors = self.embed_text([c.prompt.format(label) for label in c.labels])

    def _make_tokenizer(self, spec: Any, meta: dict[str, Any]) -> Any:
        import open_clip

        if spec.model is None or spec.family == "clip":
            from open_clip.tokenizer import SimpleTokenizer  # CLIP's BPE vocabulary ships inside open_clip

            tok = SimpleTokenizer(context_length=meta["context_length"])
            return lambda texts: tok(texts, context_length=meta["context_length"])
        try:
            return open_clip.get_tokenizer(spec.model, context_length=meta["context_length"])
        except Exception as exc:  # noqa: BLE001 - hub tokenizers fail offline in many ways
            raise ValueError(f"the tokenizer of {spec.model} comes from the Hugging Face hub and could not be loaded offline "
                             f"({type(exc).__name__}: {exc}); put it in the HF cache first") from None

    # --- compute ------------------------------------------------------------------------------
    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """RGB uint8 images → (N, D) float32 unit vectors."""
        self.setup()
        if not images:
            return np.zeros((0, 0), np.float32)
        batch = preprocess([as_rgb(im) for im in images], self.meta["size"], self.meta["mean"], self.meta["std"])
        return self._image.run(batch)["embeddings"].astype(np.float32)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Strings → (N, D) float32 unit vectors."""
        self.setup()
        tokens = np.asarray(self._tokenizer(list(texts)), dtype=np.int64)
        return self._text.run(tokens)["embeddings"].astype(np.float32)

    def zero_shot(self, vectors: np.ndarray) -> np.ndarray:
        """(N, D) image vectors → (N, labels) scores: softmax (CLIP) or sigmoid (SigLIP)."""
        logits = self.meta["logit_scale"] * vectors @ self._label_vectors.T + self.meta["logit_bias"]
        if self._family == "siglip":
            return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        z = np.exp(logits - logits.max(1, keepdims=True))
        return (z / z.sum(1, keepdims=True)).astype(np.float32)

    def process(self, frames: Sequence[Frame]) -> list[Embeddings]:
        c = self.config
        crops, owners, boxes, sources = [], [], [], []
        for i, f in enumerate(frames):
            img = as_rgb(f.image)
            h, w = img.shape[:2]
            crops.append(img)
            owners.append(i)
            boxes.append((0.0, 0.0, float(w), float(h)))
            sources.append("image")
            det = f.results.get("detect")
            if c.crops and det is not None:
                for b in det.boxes:
                    x1, y1, x2, y2 = (int(round(v)) for v in b)
                    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
                    if x2 - x1 >= c.min_crop and y2 - y1 >= c.min_crop:
                        crops.append(img[y1:y2, x1:x2])
                        owners.append(i)
                        boxes.append(tuple(map(float, b)))
                        sources.append("detection")
        vectors = self.embed_images(crops)  # one call for every frame and crop of the batch
        scores = self.zero_shot(vectors) if self._label_vectors is not None else None
        owners_a = np.asarray(owners)
        out = []
        for i in range(len(frames)):
            sel = owners_a == i
            data: dict[str, np.ndarray] = {"source": np.array([s for s, o in zip(sources, owners) if o == i], dtype=object)}
            if scores is not None:
                sc = scores[sel]
                data["label"] = np.array([c.labels[j] for j in sc.argmax(1)], dtype=object)
                data["label_score"] = sc.max(1).astype(np.float32)
            out.append(Embeddings(vectors=vectors[sel], boxes=np.asarray(boxes, np.float32)[sel], model=self.key, data=data,
                                  metadata={"family": self._family, **({"labels": list(c.labels)} if c.labels else {})}))
        return out

    @classmethod
    def index_rows(cls, result: Embeddings) -> list[IndexRow]:
        """Every vector: the whole image's and each detection crop's, with its box and zero-shot label."""
        from sensorium.stages.base import IndexRow

        kinds = result.data.get("source", ["image"] * len(result))
        labels = result.data.get("label")
        return [IndexRow(result.vectors[i], result.model, str(kinds[i]), None if labels is None else str(labels[i]),
                         None if result.boxes is None else tuple(float(v) for v in result.boxes[i])) for i in range(len(result))]

    @classmethod
    def image_vector(cls, result: Embeddings) -> np.ndarray | None:
        """The whole image's vector: the first one (crops come after it)."""
        return result.vectors[0] if len(result) else None
