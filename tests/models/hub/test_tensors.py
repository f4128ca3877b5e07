"""TensorSpec: which arrays a graph input accepts, warm-up examples, and how it prints."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from sensorium.models.hub.tensors import TensorSpec

IMAGES = TensorSpec("images", ("N", 3, 8, 8), np.dtype(np.float32), "tensor(float)")


@pytest.mark.parametrize(
    "array, accepted",
    [
        (np.zeros((1, 3, 8, 8), np.float32), True),
        (np.zeros((7, 3, 8, 8), np.float32), True),  # symbolic batch: any size
        (np.zeros((1, 3, 8, 8), np.float64), False),  # no silent casts
        (np.zeros((1, 3, 8, 9), np.float32), False),
        (np.zeros((3, 8, 8), np.float32), False),
    ],
)
def test_accepts_exact_dtype_and_fixed_dims(array, accepted):
    assert IMAGES.accepts(array) is accepted


def test_from_node_arg_reads_a_real_session_signature():
    import onnxruntime as ort

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.UINT8, ["B", None, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, ["B", None, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (spec,) = [TensorSpec.from_node_arg(a) for a in session.get_inputs()]
    assert spec.name == "x" and spec.shape[0] == "B" and spec.shape[2] == 4 and spec.dtype == np.uint8
    assert spec.example().shape == (1, 1, 4) and spec.example().dtype == np.uint8


def test_example_and_str():
    assert IMAGES.example().shape == (1, 3, 8, 8) and not IMAGES.example().any()
    assert str(IMAGES) == "(N, 3, 8, 8) float32"
    assert str(TensorSpec("v", (None,), np.dtype(np.int64), "tensor(int64)")) == "(?,) int64"
    text = TensorSpec("t", ("N",), np.dtype(np.object_), "tensor(string)")
    bf16 = TensorSpec("b", (2,), None, "tensor(bfloat16)")
    assert text.example() is None and bf16.example() is None and str(bf16) == "(2,) tensor(bfloat16)"
