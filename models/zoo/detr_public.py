"""The public COCO DETRs as exportable models: ``sensorium export detr-r50-coco`` builds the
paper's architecture (with the zero-initialised SPP block), fills it from the publisher's
checkpoint through the DETR importer and exports it like any registered model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import nn

from sensorium.models.arch.detr_checkpoint import load_detr_weights
from sensorium.models.hub.registry import ModelMeta, ModelSpec, register_model
from sensorium.models.zoo.coco_labels import COCO91
from sensorium.models.zoo.detr_shapes import _example_inputs, build_detr_from_config
from sensorium.models.zoo.importers.detr import PUBLIC_DETR, read_detr_checkpoint
from sensorium.models.zoo.public_weights import IMAGENET_MEAN, IMAGENET_STD


def public_detr_spec(name: str, backbone: str) -> ModelSpec:
    """A model spec named as its weights (``name``), the paper's DETR with ``backbone``."""
    config = dataclasses.replace(PUBLIC_DETR, backbone=backbone)

    def load(model: nn.Module, path: Path) -> None:
        state, _, _, _ = read_detr_checkpoint(path, backbone=backbone)
        load_detr_weights(model, state, source=str(path))

    return ModelSpec(
        name=name,
        build=lambda **kw: build_detr_from_config(dataclasses.replace(config, **kw)),
        example_inputs=_example_inputs,
        input_names=("images", "mask"),
        output_names=("logits", "boxes"),
        dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "mask": {0: "batch", 1: "height", 2: "width"},
                      "logits": {0: "batch"}, "boxes": {0: "batch"}},
        meta=ModelMeta(input_size=(800, 1333), mean=IMAGENET_MEAN, std=IMAGENET_STD, labels=COCO91,
                       extra={"outputs": "logits (B, Q, 92): COCO ids 0-90 then no-object; boxes (B, Q, 4) cxcywh in [0, 1]"}),
        weights=name,
        load=load,
    )


register_model(public_detr_spec("detr-r50-coco", "resnet50"))
register_model(public_detr_spec("detr-r101-coco", "resnet101"))
