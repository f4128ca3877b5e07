"""The hooks the engines ask a stage instead of naming it: batch defaults, resources, index rows,
image vector; defaults on Stage and the overrides of the face and embed stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from sensorium.stages.base import IndexRow, Resources, Stage
from sensorium.stages.config import StageConfig
from sensorium.stages.embed.stage import EmbedStage
from sensorium.stages.face.stage import FaceStage
from sensorium.stages.results import Embeddings


@dataclass(frozen=True)
class OnnxConfig(StageConfig):
    providers: tuple[str, ...] = ("cpu",)


class Plain(Stage):
    name = "hooks-plain"

    def process(self, frames):
        return [None for _ in frames]


class Onnx(Plain):
    name = "hooks-onnx"
    Config = OnnxConfig


@pytest.mark.parametrize(
    ("stage", "options", "wants_gpu"),
    [
        (Plain, {}, False),  # no providers field: CPU
        (Onnx, {}, False),
        (Onnx, {"providers": "cuda,cpu"}, True),
        (Onnx, {"providers": ("TensorrtExecutionProvider", "cpu")}, True),
        (Onnx, {"providers": "CPUExecutionProvider"}, False),
    ],
)
def test_default_resources_want_a_gpu_when_the_providers_name_one(stage, options, wants_gpu):
    from sensorium.stages.config import config_from_dict

    assert stage.resources(config_from_dict(stage.Config, options)) == Resources(num_cpus=None, num_gpus=None, wants_gpu=wants_gpu)


def test_defaults_ask_for_nothing():
    assert Plain.batch_defaults() == {} and Plain.index_rows(object()) == [] and Plain.image_vector(object()) is None


def test_face_batch_leaves_the_aligned_crops_out():
    assert FaceStage.batch_defaults() == {"keep_chips": False}
    assert FaceStage.index_rows(object()) == []  # faces are not put in the image index


def _unit(rows: int, dim: int = 4) -> np.ndarray:
    v = np.arange(1, rows * dim + 1, dtype=np.float32).reshape(rows, dim)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_embed_index_rows_carry_kind_label_and_box():
    vectors = _unit(3)
    boxes = np.array([[0, 0, 64, 48], [2, 3, 20, 30], [10, 10, 40, 40]], np.float32)
    e = Embeddings(vectors=vectors, boxes=boxes, model="clip-x",
                   data={"source": np.array(["image", "detection", "detection"], dtype=object), "label": np.array(["cat", "dog", "cat"], dtype=object)})
    rows = EmbedStage.index_rows(e)
    assert [(r.kind, r.label, r.box) for r in rows] == [
        ("image", "cat", (0.0, 0.0, 64.0, 48.0)), ("detection", "dog", (2.0, 3.0, 20.0, 30.0)), ("detection", "cat", (10.0, 10.0, 40.0, 40.0))]
    assert all(isinstance(r, IndexRow) and r.model == "clip-x" for r in rows)
    np.testing.assert_array_equal(np.stack([r.vector for r in rows]), vectors)
    np.testing.assert_array_equal(EmbedStage.image_vector(e), vectors[0])


def test_embed_without_labels_or_boxes():
    e = Embeddings(vectors=_unit(1), model="clip-x")
    (row,) = EmbedStage.index_rows(e)
    assert (row.kind, row.label, row.box) == ("image", None, None)
    assert EmbedStage.image_vector(Embeddings(vectors=np.zeros((0, 4), np.float32), model="clip-x")) is None
