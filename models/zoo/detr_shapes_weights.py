"""The shipped DETR's weights entry, apart from its architecture: looking the weights up
(``sensorium models list``, the detect stage's ``available()``, the checks the command line
makes before Ray starts) must not import torch, which takes seconds; building the model does."""

from __future__ import annotations

from pathlib import Path

from sensorium.models.data.shapes import CLASSES
from sensorium.models.hub.weights import LocalPath, WeightsEntry, register_weights

#: ImageNet statistics on [0, 255] pixels (the registries' convention); training uses the same.
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)

#: one name for the weights and the model (``models list``, ``export``, ``--set detect.weights=``)
WEIGHTS_NAME = "detr_spp_shapes"
WEIGHTS_FILE = Path(__file__).resolve().parent / "weights" / "detr_spp_shapes.pt"
#: sha256 of the shipped file; updated whenever the file is retrained.
WEIGHTS_SHA256: str | None = "a0f17bab757b184f5f14e4cb2619c2b32de31045271d4198c11fe650ff2aad1f"
#: the image side the shipped weights were trained at (``DetrConfig.image_size`` of the file)
TRAINED_IMAGE_SIZE = 192

register_weights(WeightsEntry(
    name=WEIGHTS_NAME,
    filename=WEIGHTS_FILE.name,
    sha256=WEIGHTS_SHA256,
    sources=(LocalPath(str(WEIGHTS_FILE)),),
    license="Apache-2.0 (trained by sensorium on its generated shapes data)",
    description="DETR with SPP (resnet-lite stride 16 with GroupNorm, dim 128) trained on generated shapes only "
                f"({', '.join(CLASSES)}), not on real photos; fp16 state dict, config in the JSON beside it",
    input_size=(TRAINED_IMAGE_SIZE, TRAINED_IMAGE_SIZE),
    mean=MEAN, std=STD, labels=CLASSES, format="torch",
))
