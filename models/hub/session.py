"""Creating onnxruntime sessions: optimisation levels, the errors onnxruntime raises, provider
fallback without its stdout noise, and a tiny in-memory model to probe a provider with."""

from __future__ import annotations

import functools
from pathlib import Path

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as _ortc

from sensorium.models.hub.providers import CPU

OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
# Errors that mean "this file is not a loadable model", whichever provider was asked for.
MODEL_ERRORS = (_ortc.InvalidProtobuf, _ortc.InvalidGraph, _ortc.NoModel, _ortc.NoSuchFile)
ORT_ERRORS = (_ortc.Fail, _ortc.InvalidArgument, _ortc.RuntimeException, _ortc.EPFail, _ortc.NotImplemented,
               _ortc.EngineError, *MODEL_ERRORS, RuntimeError, ValueError)


def is_model_error(exc: BaseException) -> bool:
    return isinstance(exc, MODEL_ERRORS) or (isinstance(exc, (_ortc.InvalidArgument, _ortc.Fail)) and "Load model from" in str(exc))


def create_session(source: str | bytes, so: ort.SessionOptions, candidates: list[tuple[str, dict[str, str]]],
                   ) -> tuple[ort.InferenceSession | None, dict[str, str]]:
    """Create a session on ``candidates``, dropping a GPU provider whose registration raises.

    ``enable_fallback=0``: onnxruntime's own fallback ``print``s to stdout and retries silently.
    Returns (None, failures) when every candidate failed; raises the onnxruntime error when the
    model itself cannot be loaded.
    """
    failed: dict[str, str] = {}
    remaining = list(candidates)
    while remaining:
        try:
            return ort.InferenceSession(source, sess_options=so, providers=remaining, enable_fallback=0), failed
        except ORT_ERRORS as exc:
            gpu = [name for name, _ in remaining if name != CPU]
            if is_model_error(exc) or not gpu:
                raise
            failed[gpu[0]] = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            remaining = [(n, o) for n, o in remaining if n != gpu[0]]
    return None, failed


def checker_says(path: Path) -> str:
    try:
        import onnx

        onnx.checker.check_model(str(path))
    except Exception as exc:  # noqa: BLE001 - only used to enrich an error message
        return str(exc).strip().splitlines()[0]
    return "passes onnx.checker"


@functools.lru_cache(maxsize=1)
def tiny_model() -> bytes:
    """y = x + x on a (1, 4) float32: enough to make a provider register, compile and run."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "probe",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="sensorium-probe")
    model.ir_version = 8  # what every onnxruntime of the last years reads
    onnx.checker.check_model(model)
    return model.SerializeToString()
