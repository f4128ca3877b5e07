"""Session creation on real onnxruntime: the probe model, a corrupt file, the model/provider error split."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from sensorium.models.hub.providers import CPU
from sensorium.models.hub.session import ORT_ERRORS, checker_says, create_session, is_model_error, tiny_model


def test_tiny_model_runs_on_cpu():
    session, failed = create_session(tiny_model(), ort.SessionOptions(), [(CPU, {})])
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    assert failed == {} and session.get_providers() == [CPU]
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], 2 * x)


def test_a_corrupt_model_raises_a_model_error_and_the_checker_says_why(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(tiny_model()[:-20])
    with pytest.raises(ORT_ERRORS) as exc:
        create_session(str(path), ort.SessionOptions(), [(CPU, {})])
    assert is_model_error(exc.value), exc.value
    assert checker_says(path) != "passes onnx.checker"
    (tmp_path / "good.onnx").write_bytes(tiny_model())
    assert checker_says(tmp_path / "good.onnx") == "passes onnx.checker"


def test_a_runtime_error_is_not_taken_for_a_model_error():
    assert not is_model_error(RuntimeError("CUDA failure 100: no CUDA-capable device is detected"))
