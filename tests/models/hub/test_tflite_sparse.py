"""Sparse TFLite tensors made dense: every stored value lands once, the rest is zero (the pose
detector's 38 sparse weight tensors; the converted graph's parity is in test_tflite.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.models.hub.tflite_sparse import densify
from sensorium.models.hub.weights import resolve

tflite = pytest.importorskip("tflite")


def _sparse_tensors(path):
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    sub = model.Subgraphs(0)
    for t in range(sub.TensorsLength()):
        tensor = sub.Tensors(t)
        if tensor.Sparsity() is not None:
            assert tensor.Type() == tflite.TensorType.FLOAT16
            values = np.frombuffer(model.Buffers(tensor.Buffer()).DataAsNumpy().tobytes(), np.float16)
            yield tensor, values


def test_every_stored_value_lands_once_in_the_dense_tensor(data_dir):
    tensors = list(_sparse_tensors(resolve("mediapipe_pose_detection")))
    assert len(tensors) == 38
    for tensor, values in tensors:
        dense = densify(tflite, tensor.Sparsity(), values, tensor.ShapeAsNumpy().tolist())
        assert dense.shape == tuple(tensor.ShapeAsNumpy().tolist()) and dense.dtype == np.float16
        assert np.count_nonzero(dense) == np.count_nonzero(values)
        np.testing.assert_array_equal(np.sort(dense[dense != 0]), np.sort(values[values != 0]))
        assert values.size < dense.size  # it was sparse


def test_a_wrong_value_count_is_refused(data_dir):
    tensor, values = next(_sparse_tensors(resolve("mediapipe_pose_detection")))
    with pytest.raises(ValueError, match=r"stored values, the index arrays name"):
        densify(tflite, tensor.Sparsity(), values[:-1], tensor.ShapeAsNumpy().tolist())
