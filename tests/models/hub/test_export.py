"""ONNX export of every registered model: parity with torch, dynamic axes, manifest, sha256 pinning."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import shutil
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from sensorium.models.hub import export
from sensorium.models.hub import weights
from sensorium.models.arch.cnn import cnn_small
from sensorium.models.hub.export import (
    DEFAULT_OPSET,
    FP16_RELATIVE_TOLERANCE,
    FP32_TOLERANCE,
    INT8_RELATIVE_TOLERANCE,
    ManifestError,
    ParityError,
    build_model,
    export_model,
    load_manifest,
    manifest_path,
    sha256_file,
    verify,
)
from sensorium.models.hub.registry import ModelMeta, ModelSpec, get_model, image_inputs, list_models
from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig

SEED = 0
CPU = RuntimeConfig(providers=("cpu",), warmup_runs=0)


@dataclasses.dataclass(frozen=True)
class Exported:
    name: str
    path: Path

    @property
    def fp16_path(self) -> Path:
        return self.path.with_name(f"{self.name}.fp16.onnx")

    @property
    def int8_path(self) -> Path:
        return self.path.with_name(f"{self.name}.int8.onnx")

    def torch_model(self) -> torch.nn.Module:
        """The torch twin of the exported graph: registered weights, or the same seeded random init."""
        torch.manual_seed(SEED)
        return build_model(self.name)


def _exportable_here() -> list[str]:
    """Every registered model whose weights are here: the public ones (detr-r50-coco) are fetched
    only by ``models pull``; tests/models/zoo/test_detr_public.py exports their layout."""
    from sensorium.models.hub.weights import status

    return [n for n in list_models() if get_model(n).weights is None or status(get_model(n).weights).present]


@pytest.fixture(scope="module", params=_exportable_here())
def exported(request, tmp_path_factory) -> Exported:
    """Each registered model exported once (fp32 + fp16 + int8, parity-checked at batch 1 and 3)."""
    name = request.param
    torch.manual_seed(SEED)
    path = export_model(name, tmp_path_factory.mktemp(name), fp16=True, int8=True)
    return Exported(name, path)


def run_both(exp: Exported, path: Path, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(onnxruntime, torch) arrays for each output, on seeded inputs of this batch size."""
    spec = get_model(exp.name)
    inputs = spec.example_inputs(batch, seed=batch)
    with torch.inference_mode():
        expected = exp.torch_model()(*inputs)
    expected = (expected,) if isinstance(expected, torch.Tensor) else tuple(expected)
    got = OnnxModel(path, CPU).run([x.numpy() for x in inputs])
    return [(got[name], e.numpy()) for name, e in zip(spec.output_names, expected)]


def test_export_writes_graph_and_manifest(exported):
    assert exported.path.is_file() and exported.path.name == f"{exported.name}.onnx"
    assert manifest_path(exported.path).is_file()
    onnx.checker.check_model(str(exported.path))


def test_parity_at_two_batch_sizes(exported):
    entry = load_manifest(exported.path).files[exported.path.name]
    assert set(entry.max_abs_error) == {1, 3}
    assert all(0 <= e <= FP32_TOLERANCE for e in entry.max_abs_error.values()), entry
    assert entry.tolerance == FP32_TOLERANCE


def test_dynamic_batch_at_batch_5(exported):
    for got, expected in run_both(exported, exported.path, 5):
        assert got.shape == expected.shape and got.shape[0] == 5
        np.testing.assert_allclose(got, expected, rtol=0, atol=FP32_TOLERANCE)


def test_manifest_contents(exported):
    spec = get_model(exported.name)
    m = load_manifest(exported.path)
    assert m.name == exported.name and m.opset == DEFAULT_OPSET
    assert [i["name"] for i in m.inputs] == list(spec.input_names)
    assert [o["name"] for o in m.outputs] == list(spec.output_names)
    for value in (*m.inputs, *m.outputs):
        for axis, symbol in spec.dynamic_axes.get(value["name"], {}).items():
            assert value["shape"][axis] == symbol
    assert m.inputs[0]["shape"][1] == 3 and m.inputs[0]["dtype"] == "float32"
    assert set(m.files) == {exported.path.name, exported.fp16_path.name, exported.int8_path.name}
    assert m.files[exported.path.name].sha256 == sha256_file(exported.path)
    assert m.files[exported.path.name].bytes == exported.path.stat().st_size
    if spec.weights is None:
        assert m.weights is None
    else:
        assert m.weights["name"] == spec.weights and len(m.weights["sha256"]) == 64
    assert m.meta["input_size"] == list(spec.meta.input_size) and len(m.meta["mean"]) == 3
    assert {"torch", "onnx", "onnxruntime", "onnxscript", "onnxconverter_common"} <= set(m.versions)
    assert datetime.datetime.fromisoformat(m.exported_at).tzinfo is not None


def test_manifest_is_readable_by_the_runtime(exported):
    # runtime.select_model_file reads the manifest's model/model_fp16/model_int8 keys.
    model = OnnxModel(manifest_path(exported.path), dataclasses.replace(CPU, precision="fp16"))
    assert model.path == exported.fp16_path
    assert OnnxModel(exported.path, dataclasses.replace(CPU, precision="int8")).path == exported.int8_path
    assert OnnxModel(manifest_path(exported.path), CPU).path == exported.path


def test_fp16_parity_is_looser_but_bounded(exported):
    entry = load_manifest(exported.path).files[exported.fp16_path.name]
    assert entry.precision == "fp16" and set(entry.max_abs_error) == {1, 3}
    assert all(e <= entry.tolerance for e in entry.max_abs_error.values()), entry
    assert FP32_TOLERANCE < entry.tolerance
    graph = onnx.load(exported.fp16_path).graph
    fp32 = onnx.load(exported.path).graph
    assert [v.type for v in (*graph.input, *graph.output)] == [v.type for v in (*fp32.input, *fp32.output)]
    assert any(init.data_type == onnx.TensorProto.FLOAT16 for init in graph.initializer)
    pairs = run_both(exported, exported.fp16_path, 2)
    scale = max(1.0, *(float(np.abs(expected).max()) for _, expected in pairs))
    assert max(float(np.abs(got - expected).max()) for got, expected in pairs) <= FP16_RELATIVE_TOLERANCE * scale


def test_int8_quantises_the_matrix_products_within_its_tolerance(exported):
    entry = load_manifest(exported.path).files[exported.int8_path.name]
    assert entry.precision == "int8" and set(entry.max_abs_error) == {1, 3}
    assert all(e <= entry.tolerance for e in entry.max_abs_error.values()), entry
    graph = onnx.load(exported.int8_path).graph
    fp32 = onnx.load(exported.path).graph
    assert [v.type for v in (*graph.input, *graph.output)] == [v.type for v in (*fp32.input, *fp32.output)]
    ops = {n.op_type for n in graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} & ops or "DynamicQuantizeMatMul" in ops, ops
    assert not {n.op_type for n in fp32.node} & {"MatMulInteger", "DynamicQuantizeLinear"}
    assert any(init.data_type == onnx.TensorProto.INT8 for init in graph.initializer)
    pairs = run_both(exported, exported.int8_path, 2)
    scale = max(1.0, *(float(np.abs(expected).max()) for _, expected in pairs))
    error = max(float(np.abs(got - expected).max()) for got, expected in pairs)
    # Quantised, so not bit-exact, but close: a wrong weight layout would give errors of the scale itself.
    assert 0 < error <= INT8_RELATIVE_TOLERANCE * scale


def test_verify_accepts_the_exported_files(exported):
    assert verify(exported.path).name == exported.name
    assert verify(exported.fp16_path).name == exported.name
    assert verify(exported.int8_path).name == exported.name


def test_verify_rejects_a_tampered_file(exported, tmp_path):
    copy = tmp_path / exported.path.name
    shutil.copy(exported.path, copy)
    shutil.copy(manifest_path(exported.path), manifest_path(copy))
    verify(copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the weights
    copy.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="sha256 .* does not match"):
        verify(copy)


def test_verify_without_manifest(exported, tmp_path):
    copy = tmp_path / exported.path.name
    shutil.copy(exported.path, copy)
    with pytest.raises(ManifestError, match="no export manifest"):
        verify(copy)


@pytest.mark.parametrize(
    ("text", "expectation"),
    [
        ("{not json", pytest.raises(ManifestError, match="expected JSON")),
        ('{"format": "other/1"}', pytest.raises(ManifestError, match="expected format")),
        ('{"format": "sensorium.export/1", "name": "x"}', pytest.raises(ManifestError, match="missing or malformed")),
    ],
)
def test_load_manifest_rejects_bad_files(tmp_path, text, expectation):
    path = tmp_path / "x.manifest.json"
    path.write_text(text)
    with expectation:
        load_manifest(path)


@pytest.mark.parametrize(
    ("kwargs", "expectation"),
    [
        ({"name": "no-such-model"}, pytest.raises(ValueError, match="unknown model 'no-such-model'")),
        ({"opset": 11}, pytest.raises(ValueError, match="opset: expected an integer >= 18")),
        ({"batch_sizes": (1,)}, pytest.raises(ValueError, match="batch_sizes")),
        ({"batch_sizes": (2, 2)}, pytest.raises(ValueError, match="batch_sizes")),
        ({"batch_sizes": (0, 3)}, pytest.raises(ValueError, match="batch_sizes")),
    ],
)
def test_export_rejects_bad_arguments(tmp_path, kwargs, expectation):
    kwargs = {"name": "cnn-small", **kwargs}
    with expectation:
        export_model(kwargs.pop("name"), tmp_path, **kwargs)
    assert not list(tmp_path.iterdir()), "nothing is written before the arguments are checked"


@pytest.fixture
def tiny(monkeypatch) -> ModelSpec:
    """A narrow cnn-small at 64x64 standing in for the registered models, so these tests stay fast."""
    spec = dataclasses.replace(
        get_model("cnn-small"), name="tiny-cnn", example_inputs=image_inputs(64, 64),
        build=functools.partial(cnn_small, widths=(8, 16, 16, 16), depths=(1, 1, 1, 1), num_classes=10),
        meta=ModelMeta(input_size=(64, 64)),
    )
    monkeypatch.setattr(export, "get_model", lambda name: spec)
    return spec


def test_parity_failure_raises_with_numbers_and_writes_no_manifest(tmp_path, monkeypatch, tiny):
    monkeypatch.setattr(export, "_parity", lambda *a: ({1: 0.25, 3: 0.5}, 4.0))
    with pytest.raises(ParityError, match=r"batch 1: 0\.25, batch 3: 0\.5"):
        export_model(tiny.name, tmp_path)
    assert not manifest_path(tmp_path / f"{tiny.name}.onnx").exists()


def register_torch_weights(monkeypatch, tmp_path, spec, **contract) -> str:
    torch.manual_seed(1)
    path = tmp_path / "tiny.pt"
    torch.save(spec.build().state_dict(), path)
    entry = weights.WeightsEntry(
        # a model with trained weights is named as they are
        name=spec.name, filename=path.name, sha256=sha256_file(path), sources=(weights.LocalPath(str(path)),),
        license="test", description="test weights", format="torch", **contract,
    )
    monkeypatch.setitem(weights._REGISTRY, entry.name, entry)  # undone after the test
    return entry.name


def test_registered_weights_are_loaded_and_pinned(tmp_path, monkeypatch, tiny):
    name = register_torch_weights(monkeypatch, tmp_path, tiny, input_size=(64, 64), mean=tiny.meta.mean, std=tiny.meta.std)
    spec = dataclasses.replace(tiny, weights=name)
    monkeypatch.setattr(export, "get_model", lambda _: spec)
    torch.manual_seed(0)  # export's own build would differ from the saved weights if they were not loaded
    path = export_model(spec.name, tmp_path / "out")
    assert load_manifest(path).weights == {"name": name, "sha256": sha256_file(tmp_path / "tiny.pt")}
    (x,) = spec.example_inputs(2, seed=3)
    model = spec.build().eval()
    model.load_state_dict(torch.load(tmp_path / "tiny.pt", weights_only=True))
    with torch.inference_mode():
        expected = model(x).numpy()
    np.testing.assert_allclose(OnnxModel(path, CPU).run(x.numpy())["logits"], expected, rtol=0, atol=FP32_TOLERANCE)


def test_weights_whose_contract_disagrees_are_refused(tmp_path, monkeypatch, tiny):
    name = register_torch_weights(monkeypatch, tmp_path, tiny, input_size=(64, 64), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    spec = dataclasses.replace(tiny, weights=name)
    monkeypatch.setattr(export, "get_model", lambda _: spec)
    with pytest.raises(ValueError, match="its mean .* disagrees with weights 'tiny-cnn'"):
        export_model(spec.name, tmp_path / "out")


class _FixedBatch(torch.nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.reshape(2, -1).sum(1, keepdim=True)  # bakes the trace batch into the graph


def test_a_specialised_dynamic_axis_is_an_error(tmp_path, monkeypatch, tiny):
    spec = dataclasses.replace(tiny, name="fixed-batch", build=_FixedBatch)
    monkeypatch.setattr(export, "get_model", lambda name: spec)
    with pytest.raises(ValueError, match="axis 0 of 'logits' should be dynamic"):
        export_model("fixed-batch", tmp_path)
