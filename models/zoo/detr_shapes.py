"""The reduced DETR trained on the generated shapes data set, its shipped weights and its
model-registry entries.

``DetrConfig`` is the git-independent description of the architecture: it is saved in every
training checkpoint and in the JSON beside the shipped weights, so a checkpoint rebuilds its
own model (no guessing from tensor shapes). Importing this module registers the weights
``detr_spp_shapes`` (from :mod:`.detr_shapes_weights`) and the model of the same name (with those weights), so the generic
export and parity tests cover the trained DETR.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from sensorium.models.arch.backbone import ResNetBackbone
from sensorium.models.arch.detr import DETR
from sensorium.models.hub.registry import ModelMeta, ModelSpec, register_model
from sensorium.models.data.shapes import CLASSES, ShapesConfig
from sensorium.models.layers.spp import SpatialPyramidPooling
from sensorium.models.layers.transformer import Decoder, DecoderLayer, Encoder, EncoderLayer

# the weights' entry lives in a torch-free module, so looking weights up never imports torch
from sensorium.models.zoo.detr_shapes_weights import MEAN, STD, TRAINED_IMAGE_SIZE, WEIGHTS_FILE, WEIGHTS_NAME, WEIGHTS_SHA256  # noqa: F401


@dataclass(frozen=True)
class DetrConfig:
    """Architecture of a DETR and the image side it is trained at.

    return_layer 3 takes the backbone's stride-16 map: a 12 px object still covers most of a
    cell, where stride 32 would leave it a fraction of one. norm: the backbone's normalisation
    (``frozen_bn``, ``bn``, ``gn``); trained from scratch on these images, BatchNorm features
    tracked each image's background colour and DETR stayed on its plateau, GroupNorm does not.
    """

    backbone: str = "resnet-lite"
    return_layer: int = 3
    norm: str = "gn"
    dim: int = 128
    heads: int = 4
    enc_layers: int = 2
    dec_layers: int = 3
    ffn_dim: int = 512
    dropout: float = 0.0
    num_queries: int = 20
    spp: bool = True
    num_classes: int = len(CLASSES)
    image_size: int = 192

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> "DetrConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        values = dict(values)
        if "frozen_bn" in values and "norm" not in values:  # checkpoints written before ``norm``
            values["norm"] = "frozen_bn" if values.pop("frozen_bn") else "bn"
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"DetrConfig: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)


def _adaptive_max_pool2d(x: torch.Tensor, bins: int) -> torch.Tensor:
    """``F.adaptive_max_pool2d(x, bins)`` from slices and ``amax`` (same bin edges: floor(i·H/b)
    to ceil((i+1)·H/b)), because the ONNX exporter has no translation of adaptive max pooling
    for a height and width that are dynamic. (B, C, H, W) → (B, C, bins, bins), exact."""
    h, w = x.shape[-2:]
    # ceil as ((i+1)·H + b-1) // b: only non-negative floor division, which ONNX's truncating
    # integer Div computes the same way (a negated floor division does not survive export)
    rows = torch.stack([x[:, :, (i * h) // bins: ((i + 1) * h + bins - 1) // bins].amax(2) for i in range(bins)], 2)  # (B, C, b, W)
    return torch.stack([rows[..., (j * w) // bins: ((j + 1) * w + bins - 1) // bins].amax(3) for j in range(bins)], 3)  # (B, C, b, b)


class ExportableSPP(SpatialPyramidPooling):
    """:class:`SpatialPyramidPooling` with the pooling written as slices and the upsampling as
    an integer gather, so the graph exports with dynamic height and width and onnxruntime
    matches torch at any size; parameters and names are identical."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        src = x if mask is None else x.masked_fill(mask[:, None], float("-inf"))
        parts = [x]
        for b in self.bins:
            pooled = torch.nan_to_num(_adaptive_max_pool2d(src, b), neginf=0.0)  # a bin that is all padding
            # nearest upsampling as an integer gather: exact in torch and onnxruntime alike, with
            # no float scale to round differently when the bins do not divide the map (4 onto 14)
            rows = torch.div(torch.arange(h, device=x.device) * b, h, rounding_mode="floor")
            cols = torch.div(torch.arange(w, device=x.device) * b, w, rounding_mode="floor")
            parts.append(pooled[:, :, rows][:, :, :, cols])
        return x + self.fuse(torch.cat(parts, dim=1))


def build_detr_from_config(config: DetrConfig) -> DETR:
    """A randomly initialised DETR (post-norm, ReLU, as the paper) for ``config``."""
    c = config

    def enc() -> EncoderLayer:
        return EncoderLayer(c.dim, c.heads, c.ffn_dim / c.dim, c.dropout, norm_first=False, activation=nn.ReLU)

    def dec() -> DecoderLayer:
        return DecoderLayer(c.dim, c.heads, c.ffn_dim / c.dim, c.dropout, norm_first=False, activation=nn.ReLU)

    return DETR(
        ResNetBackbone(c.backbone, norm=c.norm, return_layer=c.return_layer),
        Encoder(enc, c.enc_layers),
        Decoder(dec, c.dec_layers, nn.LayerNorm(c.dim), return_intermediate=True),
        dim=c.dim, num_classes=c.num_classes, num_queries=c.num_queries,
        spp=ExportableSPP(c.dim) if c.spp else None,
    )


def weights_config_path(weights: str | Path) -> Path:
    """The JSON beside a weights file (``x.pt`` → ``x.json``)."""
    return Path(weights).with_suffix(".json")


def load_trained_detr(path: str | Path) -> tuple[DETR, DetrConfig]:
    """A DETR in eval mode from a shipped state dict (with its JSON beside it) or a training
    checkpoint (``{"model", "config", ...}``); fp16 tensors are upcast to float32."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"DETR weights not found: {p}")
    blob = torch.load(p, map_location="cpu", weights_only=True)
    if isinstance(blob, dict) and "model" in blob and "config" in blob:
        config, state = DetrConfig.from_json(blob["config"]), blob["model"]
    else:
        meta = weights_config_path(p)
        if not meta.is_file():
            raise FileNotFoundError(f"{p}: a bare state dict needs its config in {meta}")
        config, state = DetrConfig.from_json(json.loads(meta.read_text())["config"]), blob
    model = build_detr_from_config(config)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval(), config


#: the shipped model's architecture (what ``sensorium train detect`` trains by default)
SHIPPED_CONFIG = DetrConfig()
assert SHIPPED_CONFIG.image_size == TRAINED_IMAGE_SIZE, "the weights entry's input size is out of step with DetrConfig"
#: the generated data it is trained and measured on: 192 px images keep a CPU run short;
#: 10-120 px objects still fill COCO's small, medium and large buckets
SHAPES = ShapesConfig(size=192, min_scale=10.0, max_scale=120.0)


def _example_inputs(batch: int, *, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (B, 3, 224, 256) float32 normalised, mask (B, 224, 256) bool, True = padding);
    every other image is padded on the right and bottom, as a batch of mixed sizes is."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    images = torch.randn(batch, 3, 224, 256, generator=gen)
    mask = torch.zeros(batch, 224, 256, dtype=torch.bool)
    mask[1::2, 160:, :] = True
    mask[1::2, :, 192:] = True
    images = images.masked_fill(mask[:, None], 0.0)
    return images, mask


def _spec(name: str, weights: str | None) -> ModelSpec:
    return ModelSpec(
        name=name,
        build=lambda **kw: build_detr_from_config(dataclasses.replace(SHIPPED_CONFIG, **kw)),
        example_inputs=_example_inputs,
        input_names=("images", "mask"),
        output_names=("logits", "boxes"),
        dynamic_axes={
            "images": {0: "batch", 2: "height", 3: "width"},
            "mask": {0: "batch", 1: "height", 2: "width"},
            "logits": {0: "batch"},
            "boxes": {0: "batch"},
        },
        meta=ModelMeta(input_size=(SHIPPED_CONFIG.image_size, SHIPPED_CONFIG.image_size), mean=MEAN, std=STD, labels=CLASSES,
                       extra={"outputs": "logits (B, Q, K+1) incl. no-object last; boxes (B, Q, 4) cxcywh in [0, 1] of the unpadded image"}),
        weights=weights,
    )


register_model(_spec(WEIGHTS_NAME, WEIGHTS_NAME))  # one name for model and weights


def export_detr_onnx(model: DETR, path: str | Path, *, opset: int = 18, dynamo: bool = False) -> Path:
    """Export ``model`` (eval, CPU) to ``path``: inputs ``images`` (B, 3, H, W) float32 and
    ``mask`` (B, H, W) bool, outputs ``logits``, ``boxes``; batch, height and width dynamic.
    Written to a temporary name and renamed, so readers never see half a file.

    The TorchScript exporter by default: on the paper's DETR it took 27 s where the dynamo
    exporter took 439 s on this (loaded) machine, with the same parity against torch at two
    input shapes (within 2e-6); the graph has no data-dependent control flow for tracing to
    freeze (the SPP bins are slices computed from the traced shape). ``dynamo=True`` keeps
    the other exporter one argument away."""
    import contextlib
    import io
    import os
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = _spec("detr-export-tmp", None)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the exporter narrates with print() and warns about internals
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        names = {"input_names": list(spec.input_names), "output_names": list(spec.output_names)}
        if dynamo:
            program = torch.onnx.export(model.eval().cpu(), _example_inputs(2, seed=0), dynamo=True, opset_version=opset, optimize=True,
                                        dynamic_shapes=tuple(dict(spec.dynamic_axes[n]) for n in spec.input_names), **names)
            program.save(tmp, external_data=False)
        else:
            torch.onnx.export(model.eval().cpu(), _example_inputs(2, seed=0), tmp, dynamo=False, opset_version=opset,
                              dynamic_axes={k: dict(v) for k, v in spec.dynamic_axes.items()}, **names)
    os.replace(tmp, path)
    return path


def normalisation_for_weights(weights: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel of pixel values in [0, 255] that ``weights`` (a registered
    name or a trained ``.pt``) were trained with: the registry entry's, or the JSON beside the
    ``.pt`` (the shipped model's when that JSON has none, as the trainer uses the same)."""
    from sensorium.models.hub import weights as registry

    if Path(weights).suffix in (".pt", ".pth") or Path(weights).is_file():
        meta = weights_config_path(Path(weights))
        blob = json.loads(meta.read_text()) if meta.is_file() else {}
        return tuple(blob.get("mean", MEAN)), tuple(blob.get("std", STD))
    entry = registry.get_weights(weights)
    if entry.mean is None or entry.std is None:
        raise ValueError(f"weights {weights!r}: the registry entry has no mean/std; a DETR needs the normalisation it was trained with")
    return entry.mean, entry.std


def onnx_for_weights(weights: str, onnx: str | None = None, *, precision: str = "fp32") -> tuple[Path, tuple[str, ...]]:
    """(ONNX path, labels) for a registered weights name or a trained ``.pt`` path.

    With ``onnx`` given, that file is used as is. Otherwise the weights are exported once into
    the weights cache, named by their sha256, so a retrained file never reuses a stale graph;
    ``precision="int8"`` also quantises that graph's matrix products once (the CPU speed option).
    """
    from sensorium.models.hub import weights as registry

    if Path(weights).suffix in (".pt", ".pth") or Path(weights).is_file():
        pt = Path(weights)
        if not pt.is_file():
            raise FileNotFoundError(f"DETR weights not found: {pt}")
        meta = weights_config_path(pt)
        labels = tuple(json.loads(meta.read_text()).get("labels", CLASSES)) if meta.is_file() else CLASSES
    else:
        entry = registry.get_weights(weights)
        pt = registry.resolve(weights)
        labels = tuple(entry.labels or CLASSES)
    if onnx is not None:
        if not Path(onnx).is_file():
            raise FileNotFoundError(f"ONNX graph not found: {onnx}")
        return Path(onnx), labels
    if precision not in ("fp32", "int8"):
        raise ValueError(f"precision: expected fp32 or int8 for DETR, got {precision!r}")
    cached = registry.default_cache_dir() / f"detr-{registry.sha256_file(pt)[:16]}.onnx"
    if not cached.is_file():
        model, _ = load_trained_detr(pt)
        export_detr_onnx(model, cached)
    if precision == "int8":
        import os

        from sensorium.models.hub.export import quantize_int8

        quantised = cached.with_suffix(".int8.onnx")
        if not quantised.is_file():
            tmp = quantised.with_name(f".{quantised.name}.{os.getpid()}.tmp")  # readers never see half a file
            os.replace(quantize_int8(cached, tmp), quantised)
        return quantised, labels
    return cached, labels
