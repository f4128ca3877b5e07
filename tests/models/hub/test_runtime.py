"""OnnxModel on real onnxruntime sessions: tiny graphs built with onnx.helper, and the real YuNet file."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from sensorium.models.hub.runtime import (OnnxModel, RuntimeConfig, TensorSpec, available_providers, probe_providers,
                                      provider_name)

CPU_ONLY = RuntimeConfig(providers=("cpu",))
CUDA_LOADS = probe_providers(["cuda"])["CUDAExecutionProvider"] is None
cpu_machine = pytest.mark.skipif(CUDA_LOADS, reason="the CUDA provider loads here: this test is about a machine without a GPU")


def _save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _image_model(path: Path, elem: int = TensorProto.FLOAT) -> Path:
    """images (N, 3, 8, 8) → scores (N, 3): the per-channel mean."""
    node = helper.make_node("ReduceMean", ["images"], ["scores"], axes=[2, 3], keepdims=0)
    graph = helper.make_graph([node], "image", [helper.make_tensor_value_info("images", elem, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("scores", elem, ["N", 3])])
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _two_input_model(path: Path) -> Path:
    """a, b (N, 4) → sum = a + b, prod = a * b."""
    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Mul", ["a", "b"], ["prod"])]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "two", [vi("a", TensorProto.FLOAT, ["N", 4]), vi("b", TensorProto.FLOAT, ["N", 4])],
                              [vi("sum", TensorProto.FLOAT, ["N", 4]), vi("prod", TensorProto.FLOAT, ["N", 4])])
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _reshape_model(path: Path) -> Path:
    """x (N,) → (2, 2): only N = 4 works, which the signature cannot say."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [2, 2])
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "reshape",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])], initializer=[shape])
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, OnnxModel]:
    d = tmp_path_factory.mktemp("onnx")
    return {"image": OnnxModel(_image_model(d / "image.onnx"), CPU_ONLY, name="image"),
            "two": OnnxModel(_two_input_model(d / "two.onnx"), CPU_ONLY, name="two")}


@pytest.fixture(scope="module")
def yunet_path(data_dir) -> Path:
    return data_dir / "weights" / "yunet_n_640_640.onnx"


def _images(n: int = 1, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(n).uniform(0, 1, (n, 3, 8, 8)).astype(dtype)


def test_run_accepts_an_array_a_dict_or_a_sequence(models):
    x = _images(2)
    expected = x.mean(axis=(2, 3))
    for feeds in (x, {"images": x}, [x]):
        out = models["image"].run(feeds)
        assert list(out) == ["scores"]
        np.testing.assert_allclose(out["scores"], expected, rtol=1e-6)
    a, b = np.ones((3, 4), np.float32), np.full((3, 4), 2, np.float32)
    out = models["two"].run([a, b])
    np.testing.assert_array_equal(out["sum"], a + b)
    np.testing.assert_array_equal(out["prod"], a * b)
    assert list(models["two"].run({"b": b, "a": a}, output_names=["prod"])) == ["prod"]


@pytest.mark.parametrize("n", [1, 5])
def test_symbolic_batch_dimension_takes_any_size(models, n):
    assert models["image"].run(_images(n))["scores"].shape == (n, 3)


def test_signature_is_exposed_with_symbolic_dims(models, yunet_path):
    (spec,) = models["image"].inputs
    assert spec == TensorSpec("images", ("N", 3, 8, 8), np.dtype(np.float32), "tensor(float)")
    assert str(spec) == "(N, 3, 8, 8) float32"
    yunet = OnnxModel(yunet_path, CPU_ONLY)
    assert [(s.name, s.shape, s.dtype) for s in yunet.inputs] == [("input", (1, 3, 640, 640), np.float32)]
    assert [s.name for s in yunet.outputs][:3] == ["cls_8", "cls_16", "cls_32"] and len(yunet.outputs) == 12
    assert yunet.name == "yunet_n_640_640" and yunet.providers == ("CPUExecutionProvider",)


@pytest.mark.parametrize("model, feeds, expectation, message", [
    ("image", lambda: _images(1), does_not_raise(), None),
    ("image", lambda: _images(1).transpose(0, 2, 3, 1), pytest.raises(ValueError),
     "model image input 'images': expected (N, 3, 8, 8) float32, got (1, 8, 8, 3) float32"),
    ("image", lambda: (_images(1) * 255).astype(np.uint8), pytest.raises(ValueError), "got (1, 3, 8, 8) uint8"),
    ("image", lambda: _images(1, np.float64), pytest.raises(ValueError), "got (1, 3, 8, 8) float64"),
    ("image", lambda: _images(1)[0], pytest.raises(ValueError), "expected (N, 3, 8, 8) float32, got (3, 8, 8) float32"),
    ("image", lambda: {"image": _images(1)}, pytest.raises(ValueError), "unknown input 'image'"),
    ("image", lambda: {"images": _images(1).tolist()}, pytest.raises(TypeError), "expected a numpy array"),
    ("image", lambda: [_images(1), _images(1)], pytest.raises(ValueError), "expected 1 arrays"),
    ("image", lambda: "images", pytest.raises(TypeError), "got str"),
    ("two", lambda: {"a": np.ones((1, 4), np.float32)}, pytest.raises(ValueError), "missing input 'b'"),
    ("two", lambda: np.ones((1, 4), np.float32), pytest.raises(ValueError), "expected 2 inputs"),
    ("two", lambda: [np.ones((2, 4), np.float32), np.ones((2, 5), np.float32)], pytest.raises(ValueError),
     "input 'b': expected (N, 4) float32, got (2, 5) float32"),
])
def test_inputs_are_validated_before_onnxruntime(models, model, feeds, expectation, message):
    with expectation as exc:
        models[model].run(feeds())
    if message:
        assert message in str(exc.value)


def test_unknown_output_name_is_rejected(models):
    with pytest.raises(ValueError, match="unknown output 'score'.*'scores'"):
        models["image"].run(_images(1), output_names=["score"])


def test_non_contiguous_input_gives_the_same_result(models):
    base = _images(2)
    view = np.ascontiguousarray(base.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # same values, not C-contiguous
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(models["image"].run(view)["scores"], models["image"].run(base)["scores"])


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        OnnxModel(tmp_path / "nope.onnx", CPU_ONLY)


@pytest.mark.parametrize("kind, says", [
    ("random", "INVALID_PROTOBUF"),
    ("truncated", "INVALID_PROTOBUF"),
    ("empty", "No graph was found"),
    ("text", "Protobuf parsing failed"),
])
def test_corrupt_files_raise_valueerror_naming_the_file(tmp_path, yunet_path, kind, says):
    data = {"random": np.random.default_rng(0).bytes(4096), "truncated": yunet_path.read_bytes()[: yunet_path.stat().st_size // 2],
            "empty": b"", "text": b"not a model\n"}[kind]
    path = tmp_path / f"{kind}.onnx"
    path.write_bytes(data)
    with pytest.raises(ValueError) as exc:
        OnnxModel(path, RuntimeConfig())  # the default GPU-first request must not blur a file error
    message = str(exc.value)
    assert str(path) in message and says in message and "onnx.checker says" in message
    assert exc.value.__cause__ is None and exc.value.__suppress_context__  # no raw onnxruntime traceback


@cpu_machine
def test_provider_report_shows_gpu_providers_failed_with_reasons(yunet_path, caplog):
    with caplog.at_level(logging.WARNING, logger="sensorium.models.hub.runtime"):
        model = OnnxModel(yunet_path, RuntimeConfig())
    report = model.provider_report
    assert report.requested == ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    assert report.active == ("CPUExecutionProvider",) and model.providers == report.active
    assert list(report.failed) == ["TensorrtExecutionProvider", "CUDAExecutionProvider"] and not report.ok
    assert all(len(why) > 20 for why in report.failed.values()), report.failed
    assert "CUDAExecutionProvider failed: " in str(report)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings and "CUDAExecutionProvider" in warnings[0].getMessage()
    assert report.failed["CUDAExecutionProvider"] in warnings[0].getMessage()
    assert model.io_binding is False  # no GPU provider active


@cpu_machine
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_no_cuda_library_is_loaded_without_a_driver(yunet_path):
    """Preloading CUDA/cuDNN costs ~190 MB per process: never on a machine without the NVIDIA driver."""
    code = ("import sys; from sensorium.models.hub.runtime import OnnxModel; OnnxModel(sys.argv[1]); "
            "print(sorted({l.split('/')[-1] for l in open('/proc/self/maps') if 'libcublas' in l or 'libcudnn' in l}))")
    out = subprocess.run([sys.executable, "-c", code, str(yunet_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


@cpu_machine
def test_gpu_only_request_raises_instead_of_running_on_cpu(yunet_path):
    with pytest.raises(RuntimeError, match=r"none of the requested providers loaded(.|\n)*CUDAExecutionProvider failed: \S+"):
        OnnxModel(yunet_path, RuntimeConfig(providers=("cuda",)))


def test_cpu_only_request_reports_nothing_failed(yunet_path, caplog):
    with caplog.at_level(logging.WARNING, logger="sensorium.models.hub.runtime"):
        model = OnnxModel(yunet_path, CPU_ONLY)
    assert model.provider_report.ok and model.provider_report.failed == {}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("spinning, expected", [(False, "0"), (True, "1")])
def test_session_options_reach_the_session(tmp_path, spinning, expected):
    config = RuntimeConfig(providers=("cpu",), intra_op_threads=1, inter_op_threads=2, allow_spinning=spinning,
                           graph_optimization="basic")
    so = OnnxModel(_image_model(tmp_path / "m.onnx"), config).session.get_session_options()
    assert so.intra_op_num_threads == 1 and so.inter_op_num_threads == 2
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == expected
    assert so.get_session_config_entry("session.inter_op.allow_spinning") == expected
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC


def test_default_threads_are_left_to_onnxruntime(tmp_path):
    so = OnnxModel(_image_model(tmp_path / "m.onnx"), CPU_ONLY).session.get_session_options()
    assert so.intra_op_num_threads == 0  # 0 = onnxruntime picks
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


@pytest.mark.parametrize("kwargs, expectation", [
    ({}, does_not_raise()),
    ({"providers": ["CUDAExecutionProvider", "cpu"]}, does_not_raise()),
    ({"providers": ()}, pytest.raises(ValueError, match="non-empty")),
    ({"providers": "cpu"}, pytest.raises(ValueError, match="sequence")),
    ({"providers": ("cuda", "tpu")}, pytest.raises(ValueError, match="unknown execution provider 'tpu'")),
    ({"providers": ("cpu", "CPUExecutionProvider")}, pytest.raises(ValueError, match="each provider once")),
    ({"graph_optimization": "max"}, pytest.raises(ValueError, match="expected one of disable, basic, extended, all, got 'max'")),
    ({"intra_op_threads": 0}, pytest.raises(ValueError, match="intra_op_threads: expected an integer >= 1, got 0")),
    ({"warmup_runs": -1}, pytest.raises(ValueError, match="warmup_runs")),
    ({"device_id": True}, pytest.raises(ValueError, match="device_id")),
    ({"precision": "int8"}, does_not_raise()),
    ({"precision": "int4"}, pytest.raises(ValueError, match="precision: expected one of fp32, fp16, int8, got 'int4'")),
])
def test_runtime_config_validation(kwargs, expectation):
    with expectation:
        config = RuntimeConfig(**kwargs)
        assert isinstance(config.providers, tuple)
        assert config.ort_providers[-1] == "CPUExecutionProvider"


def test_io_binding_gives_the_same_outputs(yunet_path, data_dir):
    image = cv2.resize(cv2.imread(str(data_dir / "faces" / "two_people.jpg")), (640, 640))
    x = image.astype(np.float32).transpose(2, 0, 1)[None]
    bound = OnnxModel(yunet_path, RuntimeConfig(providers=("cpu",), io_binding=True))
    plain = OnnxModel(yunet_path, CPU_ONLY)
    assert bound.io_binding and not plain.io_binding
    a, b = bound.run(x), plain.run(x)
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


def _face_score(outputs: dict[str, np.ndarray]) -> float:
    return max(float(np.sqrt(np.clip(outputs[f"cls_{s}"], 0, 1) * np.clip(outputs[f"obj_{s}"], 0, 1)).max()) for s in (8, 16, 32))


def test_yunet_finds_faces_in_a_real_photo_and_none_in_a_blank_one(data_dir):
    model = OnnxModel.from_weights("yunet_n", CPU_ONLY)
    assert model.weights.input_size == (640, 640) and model.weights.channel_order == "BGR" and model.name == "yunet_n"
    h, w = model.weights.input_size
    photo = cv2.resize(cv2.imread(str(data_dir / "faces" / "two_people.jpg")), (w, h))  # BGR, as the contract says
    blank = np.full((h, w, 3), 128, np.uint8)
    score = {k: _face_score(model.run(im.astype(np.float32).transpose(2, 0, 1)[None])) for k, im in (("photo", photo), ("blank", blank))}
    assert score["photo"] > 0.8 and score["blank"] < 0.3, score


def test_from_weights_rejects_non_onnx_weights():
    with pytest.raises(ValueError, match="expected format 'onnx', got 'dlib'"):
        OnnxModel.from_weights("dlib_face_recognition_resnet_v1", CPU_ONLY)


def test_warmup_runs_at_construction(tmp_path):
    path = _image_model(tmp_path / "m.onnx")
    assert OnnxModel(path, RuntimeConfig(providers=("cpu",), warmup_runs=0)).warmup_ms is None
    assert OnnxModel(path, RuntimeConfig(providers=("cpu",), warmup_runs=2)).warmup_ms > 0


def test_failed_warmup_is_logged_and_runtime_failures_name_the_model(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="sensorium.models.hub.runtime"):
        model = OnnxModel(_reshape_model(tmp_path / "reshape.onnx"), CPU_ONLY, name="reshape")  # warm-up uses N = 1
    assert model.warmup_ms is None and "warm-up on zeros failed" in caplog.text
    np.testing.assert_array_equal(model.run(np.arange(4, dtype=np.float32))["y"], [[0, 1], [2, 3]])
    with pytest.raises(RuntimeError, match="model reshape: onnxruntime failed on CPUExecutionProvider: .*cannot be reshaped"):
        model.run(np.arange(3, dtype=np.float32))


def test_concurrent_runs_from_threads(models):
    errors, model = [], models["two"]

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(20):
            a, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
            out = model.run({"a": a, "b": b})
            if not (np.array_equal(out["sum"], a + b) and np.array_equal(out["prod"], a * b)):
                errors.append(seed)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_fp16_prefers_the_manifest_fp16_file(tmp_path):
    """The layout models/hub/export.py writes: NAME.onnx, NAME.fp16.onnx, NAME.manifest.json."""
    _image_model(tmp_path / "m.onnx")
    _image_model(tmp_path / "m.fp16.onnx", TensorProto.FLOAT16)
    manifest = tmp_path / "m.manifest.json"
    manifest.write_text(json.dumps({"model": "m.onnx", "model_fp16": "m.fp16.onnx"}))
    fp16 = RuntimeConfig(providers=("cpu",), precision="fp16")
    for path in (tmp_path, manifest, tmp_path / "m.onnx"):
        half = OnnxModel(path, fp16)
        assert half.path == tmp_path / "m.fp16.onnx" and half.inputs[0].dtype == np.float16 and half.name == "m.fp16"
    assert half.run(_images(1, np.float16))["scores"].dtype == np.float16
    for path in (tmp_path, manifest, tmp_path / "m.onnx"):
        assert OnnxModel(path, CPU_ONLY).path == tmp_path / "m.onnx"
    manifest.write_text(json.dumps({"model": "m.onnx"}))
    assert OnnxModel(tmp_path, fp16).path.name == "m.onnx"
    manifest.write_text(json.dumps({"file": "m.onnx"}))
    with pytest.raises(ValueError, match=r"expected a 'model' entry naming the \.onnx file, got \['file'\]"):
        OnnxModel(tmp_path, CPU_ONLY)
    (tmp_path / "n.manifest.json").write_text("{}")
    with pytest.raises(ValueError, match="expected one \\*.manifest.json .*got m.manifest.json, n.manifest.json"):
        OnnxModel(tmp_path, CPU_ONLY)


def test_probe_providers_tries_real_sessions():
    assert "CPUExecutionProvider" in available_providers()
    result = probe_providers()
    assert list(result) == available_providers()
    assert result["CPUExecutionProvider"] is None
    if not CUDA_LOADS:
        assert any(why in result["CUDAExecutionProvider"] for why in ("NVIDIA driver not found", "cannot load", "without it"))
    assert "not built into this onnxruntime" in probe_providers(["coreml"])["CoreMLExecutionProvider"]
    with pytest.raises(ValueError, match="unknown execution provider"):
        probe_providers(["gpu"])
    assert provider_name("cuda") == provider_name("CUDAExecutionProvider") == "CUDAExecutionProvider"


def test_the_config_vocabularies_are_the_runtime_s_tables():
    """The Literals stage configs validate against name exactly what the runtime can load."""
    from typing import get_args

    from sensorium.models.hub import providers, runtime, session

    assert set(get_args(runtime.Provider)) == set(providers.ALIASES) | set(providers.ALIASES.values())
    assert get_args(runtime.GraphOptimization) == tuple(session.OPT_LEVELS)
    assert runtime.PRECISIONS == ("fp32", "fp16", "int8")
