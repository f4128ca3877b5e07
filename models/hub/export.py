"""Export a registered model to ONNX, prove it matches torch, and pin the result in a manifest.

``export_model("vit-tiny", "out/")`` writes ``out/vit-tiny.onnx`` (and ``vit-tiny.fp16.onnx``
with ``fp16=True``, ``vit-tiny.int8.onnx`` with ``int8=True``) and, last,
``out/vit-tiny.manifest.json``: inputs/outputs with symbolic
dims, opset, sha256 of every file, the parity each file reached against torch, library
versions, the weights and the model's input contract. The manifest is written only after every
check passed, so a manifest beside a file means that file was verified; :func:`verify` re-hashes
a file against it before anyone trusts it.

The manifest's ``model``/``model_fp16``/``model_int8`` keys name the files, the layout
:func:`sensorium.models.hub.runtime.select_model_file` reads, so ``OnnxModel(manifest_path,
RuntimeConfig(precision="int8"))`` picks the right file.

int8 is onnxruntime's dynamic quantisation of the matrix products (``MatMul``/``Gemm`` weights
stored as int8, activations quantised per batch at run time; no calibration data needed). It is
the CPU speed option: on a 2-core AVX-512 VNNI machine it ran vit-tiny 2x faster than fp32,
which is already close to the cores' fp32 peak (docs/benchmarks.md "Runtime"). Convolutions
stay float32: onnxruntime's ``ConvInteger`` has no fast CPU kernel, and static quantisation
would need calibration images.

Opset: 23 by default. With it the dynamo exporter turns ``scaled_dot_product_attention`` into
one ONNX ``Attention`` node and GELU into one ``Gelu`` node, which onnxruntime's CPU provider
runs directly; at opset 18 attention is decomposed into MatMul/Softmax/Transpose and GELU into
Erf arithmetic. Measured on vit-tiny (2-core AMD EPYC, docs/benchmarks.md "ONNX export"): 39%
fewer nodes and 8-15% less time per batch, same parity. Pass ``opset=18`` for an engine that
lacks the opset-23 ``Attention`` op (older onnxruntime releases, other runtimes).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from sensorium.models.hub.files import sha256_file
from sensorium.models.hub.registry import ModelSpec, get_model

log = logging.getLogger(__name__)

DEFAULT_OPSET = 23
MIN_OPSET = 18  # the dynamo exporter's own operator set; lower ones go through a lossy version converter
FP32_TOLERANCE = 1e-4
# fp16 stores weights and activations with an 11-bit significand (unit round-off 4.9e-4); over a
# dozen layers errors of ~1e-3 of the output's scale are normal (measured: vit-tiny 6e-4 on logits
# of magnitude ~1, cnn-small 3e-3 on ~7). 1% of the output's scale flags real breakage (overflow,
# a wrongly cast op) without failing on rounding.
FP16_RELATIVE_TOLERANCE = 1e-2
# Dynamic int8 rounds every matrix product's inputs to 8 bits: measured max abs error 2-3% of the
# output's scale on vit-tiny, cnn-small and the trained DETR (logits and boxes). 10% still
# catches a broken graph (a wrongly transposed weight gives errors of the output's own scale).
INT8_RELATIVE_TOLERANCE = 1e-1
EXPORT_BATCH = 2  # torch.export specialises size-1 dims, so the trace never uses batch 1
MANIFEST_FORMAT = "sensorium.export/1"


class ParityError(RuntimeError):
    """onnxruntime's outputs differ from torch's by more than the tolerance."""


class ManifestError(ValueError):
    """A manifest is missing, malformed, or does not describe the file it is checked against."""


def manifest_path(onnx_path: str | Path) -> Path:
    """``out/vit-tiny.onnx``, ``.fp16.onnx`` and ``.int8.onnx`` -> ``out/vit-tiny.manifest.json``."""
    path = Path(onnx_path)
    stem = path.name.removesuffix(".onnx").removesuffix(".fp16").removesuffix(".int8")
    return path.with_name(f"{stem}.manifest.json")


@dataclass(frozen=True)
class ExportedFile:
    """One .onnx file of an export: its hash and the parity it reached against torch fp32.

    max_abs_error: batch size -> max |onnxruntime - torch| over all outputs (None: not checked).
    """

    file: str
    precision: str
    sha256: str
    bytes: int
    tolerance: float | None
    max_abs_error: Mapping[int, float] | None

    def to_json(self) -> dict[str, Any]:
        errors = None if self.max_abs_error is None else {str(b): e for b, e in self.max_abs_error.items()}
        return {"file": self.file, "precision": self.precision, "sha256": self.sha256, "bytes": self.bytes,
                "parity": {"tolerance": self.tolerance, "max_abs_error": errors}}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ExportedFile:
        errors = d["parity"]["max_abs_error"]
        return cls(d["file"], d["precision"], d["sha256"], int(d["bytes"]), d["parity"]["tolerance"],
                   None if errors is None else {int(b): float(e) for b, e in errors.items()})


@dataclass(frozen=True)
class ExportManifest:
    """What ``<name>.manifest.json`` holds; ``path`` is where it was read from (None if not saved).

    inputs/outputs: ``{"name", "dtype", "shape"}`` with symbolic dims as strings.
    weights: ``{"name", "sha256"}`` or None for random init. meta: the model's input contract.
    """

    name: str
    opset: int
    files: Mapping[str, ExportedFile]
    inputs: tuple[Mapping[str, Any], ...]
    outputs: tuple[Mapping[str, Any], ...]
    weights: Mapping[str, str] | None
    meta: Mapping[str, Any]
    versions: Mapping[str, str]
    exported_at: str
    path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        by_precision = {f.precision: name for name, f in self.files.items()}
        return {
            "format": MANIFEST_FORMAT,
            "name": self.name,
            "model": by_precision["fp32"],
            **{f"model_{p}": by_precision[p] for p in ("fp16", "int8") if p in by_precision},
            "opset": self.opset,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "files": [f.to_json() for f in self.files.values()],
            "parity_reference": "torch eager fp32 on CPU vs onnxruntime CPUExecutionProvider, fresh random inputs",
            "weights": self.weights,
            "meta": self.meta,
            "versions": self.versions,
            "exported_at": self.exported_at,
        }


def load_manifest(path: str | Path) -> ExportManifest:
    """Read ``<name>.manifest.json``; ``path`` may also be one of the .onnx files it describes."""
    path = Path(path)
    if path.suffix == ".onnx":
        path = manifest_path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"no export manifest at {path}: export the model with export_model()") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"export manifest {path}: expected JSON, got an unreadable file ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != MANIFEST_FORMAT:
        got = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise ManifestError(f"export manifest {path}: expected format {MANIFEST_FORMAT!r}, got {got!r}")
    try:
        files = {f["file"]: ExportedFile.from_json(f) for f in raw["files"]}
        return ExportManifest(
            name=raw["name"], opset=int(raw["opset"]), files=files, inputs=tuple(raw["inputs"]),
            outputs=tuple(raw["outputs"]), weights=raw["weights"], meta=raw["meta"], versions=raw["versions"],
            exported_at=raw["exported_at"], path=path,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"export manifest {path}: missing or malformed field ({type(exc).__name__}: {exc})") from None


def verify(onnx_path: str | Path) -> ExportManifest:
    """Re-hash ``onnx_path`` and compare with its manifest; returns the manifest if they match.

    Raises ManifestError when the manifest is missing, does not list the file, or records
    another sha256 (the file was modified or replaced after export).
    """
    onnx_path = Path(onnx_path)
    manifest = load_manifest(manifest_path(onnx_path))
    entry = manifest.files.get(onnx_path.name)
    if entry is None:
        raise ManifestError(f"{manifest.path} does not list {onnx_path.name}; it lists {', '.join(manifest.files)}")
    got = sha256_file(onnx_path, fresh=True)  # the tamper check reads the bytes, whatever the mtime says
    if got != entry.sha256:
        raise ManifestError(f"{onnx_path}: sha256 {got} does not match {entry.sha256} recorded in {manifest.path}; "
                            f"the file changed after export: re-export it or restore the original")
    return manifest


def _versions() -> dict[str, str]:
    import onnxconverter_common
    import onnxruntime
    import onnxscript

    return {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "onnxscript": onnxscript.__version__, "onnxconverter_common": onnxconverter_common.__version__}


def _build(spec: ModelSpec) -> tuple[nn.Module, dict[str, str] | None]:
    """The model in eval mode on CPU, with its registered weights; (model, {"name", "sha256"} or None)."""
    model = spec.build()
    ref = None
    if spec.weights is not None:
        from sensorium.models.hub import weights

        entry = weights.get_weights(spec.weights)
        if entry.format != "torch":
            raise ValueError(f"model {spec.name}: weights {entry.name!r} must be a torch state dict, got format {entry.format!r}")
        for key, ours, theirs in (("input_size", spec.meta.input_size, entry.input_size),
                                  ("mean", spec.meta.mean, entry.mean), ("std", spec.meta.std, entry.std)):
            if theirs is not None and tuple(theirs) != tuple(ours):
                raise ValueError(f"model {spec.name}: its {key} {ours} disagrees with weights {entry.name!r} ({theirs})")
        path = weights.resolve(entry.name)
        if spec.load is not None:  # a publisher's layout (facebookresearch DETR): the spec knows how to read it
            spec.load(model, path)
        else:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        ref = {"name": entry.name, "sha256": sha256_file(path)}
    return model.eval().cpu(), ref


def build_model(name: str) -> nn.Module:
    """Registered model ``name`` as :func:`export_model` exports it: eval mode, on CPU, with its
    registered weights (verified by sha256) or, without any, torch's random init."""
    return _build(get_model(name))[0]


def _dynamic_shapes(spec: ModelSpec) -> tuple[dict[int, str], ...]:
    # Axis names as strings: the exporter makes them Dim.DYNAMIC and names the ONNX dims after them.
    return tuple(dict(spec.dynamic_axes.get(name, {})) for name in spec.input_names)


def _io_info(values: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"name": v.name, "dtype": str(onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type)),
             "shape": [d.dim_param if d.HasField("dim_param") else d.dim_value for d in v.type.tensor_type.shape.dim]}
            for v in values]


def _check_symbolic(spec: ModelSpec, io: list[dict[str, Any]]) -> None:
    for value in io:
        for axis, symbol in spec.dynamic_axes.get(value["name"], {}).items():
            got = value["shape"][axis]
            if got != symbol:
                raise ValueError(f"model {spec.name}: axis {axis} of {value['name']!r} should be dynamic ({symbol!r}) "
                                 f"but the exported graph has {got!r}: the model specialises it")


def _broadcast_attention_masks(model: onnx.ModelProto) -> int:
    """Expand every ``Attention`` node's ``attn_mask`` to (..., q_len, kv_len) in the graph.

    The ONNX spec lets the mask broadcast on every axis, and SDPA's key-padding masks arrive as
    (B, 1, 1, S), but onnxruntime's CPU kernel (1.31) requires the query axis to equal q_len
    ("inconsistent q_sequence_length (between attn_mask and Q)"). Expanding with the shape of
    Q and K (``Shape(start=-2, end=-1)`` works for 3-D and 4-D inputs) keeps the fused node
    and costs one (B, 1, T, S) bool tensor per layer. Returns the number of masks expanded.
    """
    nodes, count = [], 0
    for node in model.graph.node:
        if node.op_type == "Attention" and node.domain in ("", "ai.onnx") and len(node.input) > 3 and node.input[3]:
            q, k, mask, prefix = node.input[0], node.input[1], node.input[3], f"{node.name or 'attention'}_{count}_mask"
            nodes += [
                onnx.helper.make_node("Shape", [q], [f"{prefix}_q_len"], start=-2, end=-1),
                onnx.helper.make_node("Shape", [k], [f"{prefix}_kv_len"], start=-2, end=-1),
                onnx.helper.make_node("Concat", [f"{prefix}_q_len", f"{prefix}_kv_len"], [f"{prefix}_shape"], axis=0),
                onnx.helper.make_node("Expand", [mask, f"{prefix}_shape"], [f"{prefix}_expanded"]),
            ]
            node.input[3] = f"{prefix}_expanded"
            count += 1
        nodes.append(node)
    if count:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return count


def _export_onnx(model: nn.Module, spec: ModelSpec, path: Path, opset: int) -> None:
    inputs = spec.example_inputs(EXPORT_BATCH, seed=0)
    # The exporter narrates its steps with print() and warns about its internals: both go to the log.
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        program = torch.onnx.export(
            model, inputs, dynamo=True, opset_version=opset, input_names=list(spec.input_names),
            output_names=list(spec.output_names), dynamic_shapes=_dynamic_shapes(spec), optimize=True, verbose=False,
        )
    log.debug("torch.onnx.export(%s): %s", spec.name, out.getvalue().strip())
    for w in caught:
        log.debug("torch.onnx.export(%s) warned: %s", spec.name, w.message)
    program.save(path, external_data=False)  # one self-contained file, so one sha256 covers it
    proto = onnx.load(path)
    if _broadcast_attention_masks(proto):
        onnx.checker.check_model(proto)
        onnx.save(proto, path)


def _to_fp16(src: Path, dst: Path) -> None:
    from onnxconverter_common import float16

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one warning per weight too small for fp16 (clamped to 1e-7)
        # keep_io_types: callers keep feeding float32 and reading float32; casts sit inside the graph.
        model = float16.convert_float_to_float16(onnx.load(src), keep_io_types=True)
    # The converter retypes every float tensor as float16 but leaves the graph's own Cast(to=FLOAT)
    # nodes (a `.float()` in the model) casting to float32: onnxruntime then refuses the graph
    # ("Type (tensor(float16)) of output arg ... does not match"). Make them cast to float16.
    fp16_values = {v.name for v in model.graph.value_info if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16}
    for node in model.graph.node:
        if node.op_type == "Cast" and node.output[0] in fp16_values:
            for attr in node.attribute:
                if attr.name == "to" and attr.i == onnx.TensorProto.FLOAT:
                    attr.i = onnx.TensorProto.FLOAT16
    onnx.save(model, dst)


def quantize_int8(src: str | Path, dst: str | Path) -> Path:
    """Write ``dst``: the float32 graph ``src`` with its MatMul/Gemm weights stored as int8 and
    their inputs quantised per call (onnxruntime dynamic quantisation); float32 in and out."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(src)
    # The dynamo exporter's value_info carries shapes that onnx's shape inference (run inside the
    # quantiser) rejects ("Inferred shape and existing shape differ"); onnxruntime infers them again.
    del model.graph.value_info[:]
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "clean.onnx"
        onnx.save(model, clean)
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            quantize_dynamic(
                clean, dst, weight_type=QuantType.QInt8,  # s8 weights x u8 activations: MLAS's VNNI kernels
                # 7-bit weights: without VNNI (AVX2 only) MLAS sums u8 x s8 pairs in saturating int16,
                # which wrecks 8-bit weights (ViT parity error 0.35-0.65 of a unit output, measured);
                # a graph must be right on whichever CPU runs it, not only on the one that exported it
                reduce_range=True,
                # Only matrix products: the quantiser takes the standard ONNX ``Attention`` node for
                # com.microsoft's and emits a QAttention that onnxruntime rejects, and ConvInteger is slow.
                op_types_to_quantize=["MatMul", "Gemm"],
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # types shape inference leaves open
            )
    return Path(dst)


_CONVERTERS = {"fp16": _to_fp16, "int8": quantize_int8}
_RELATIVE_TOLERANCES = {"fp16": FP16_RELATIVE_TOLERANCE, "int8": INT8_RELATIVE_TOLERANCE}


def _parity(model: nn.Module, spec: ModelSpec, path: Path, batch_sizes: Sequence[int]) -> tuple[dict[int, float], float]:
    """(batch size -> max |onnxruntime - torch| over all outputs, largest |torch output|) on fresh
    random inputs; the scale sets relative tolerances."""
    from sensorium.models.hub.runtime import OnnxModel, RuntimeConfig

    session = OnnxModel(path, RuntimeConfig(providers=("cpu",), warmup_runs=0), name=path.name)
    errors: dict[int, float] = {}
    scale = 0.0
    for batch in batch_sizes:
        inputs = spec.example_inputs(batch)
        with torch.inference_mode():
            expected = model(*inputs)
        expected = (expected,) if isinstance(expected, torch.Tensor) else tuple(expected)
        got = session.run([x.numpy() for x in inputs])
        # np.max, not max(): a NaN must propagate into the error, not lose a comparison.
        errors[batch] = float(np.max([np.max(np.abs(got[n] - e.numpy())) for n, e in zip(spec.output_names, expected)]))
        scale = max(scale, *(float(e.abs().max()) for e in expected))
    return errors, scale


def export_model(
    name: str,
    out_dir: str | Path,
    *,
    opset: int | None = None,
    fp16: bool = False,
    int8: bool = False,
    check: bool = True,
    batch_sizes: Sequence[int] = (1, 3),
) -> Path:
    """Export registered model ``name`` to ``out_dir/<name>.onnx``; returns that path.

    The model is built in eval mode on CPU with its registered weights and traced with the
    dynamo exporter at batch :data:`EXPORT_BATCH`, with the spec's dynamic axes. ``check``
    compares onnxruntime (CPU) with torch on fresh random inputs at each of ``batch_sizes``
    (at least two; at least one differs from the trace batch) and raises ParityError when the
    max abs error exceeds :data:`FP32_TOLERANCE` (fp16: :data:`FP16_RELATIVE_TOLERANCE` times
    the largest |output|, at least 1; int8: :data:`INT8_RELATIVE_TOLERANCE` times it). ``fp16``
    also writes ``<name>.fp16.onnx`` (float32 in and out, float16 inside); ``int8`` writes
    ``<name>.int8.onnx`` (float32 in and out, matrix products dynamically quantised to int8). The manifest ``<name>.manifest.json`` is written last, and only when
    every check passed.
    """
    opset = DEFAULT_OPSET if opset is None else opset
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise ValueError(f"opset: expected an integer >= {MIN_OPSET}, got {opset!r}")
    batch_sizes = tuple(batch_sizes)
    if check and (len(batch_sizes) < 2 or any(not isinstance(b, int) or b < 1 for b in batch_sizes)
                  or set(batch_sizes) == {EXPORT_BATCH}):
        raise ValueError(f"batch_sizes: expected two or more positive ints, not all {EXPORT_BATCH} "
                         f"(the trace batch), got {batch_sizes!r}")
    spec = get_model(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / f"{name}.onnx"
    manifest_file = manifest_path(onnx_path)
    manifest_file.unlink(missing_ok=True)  # a stale manifest must not vouch for the new files

    model, weights_ref = _build(spec)
    _export_onnx(model, spec, onnx_path, opset)
    graph = onnx.load(onnx_path, load_external_data=False).graph
    inputs, outputs = _io_info(graph.input), _io_info(graph.output)
    _check_symbolic(spec, inputs + outputs)

    targets = [(onnx_path, "fp32")]
    for precision, wanted in (("fp16", fp16), ("int8", int8)):
        if wanted:
            path = out_dir / f"{name}.{precision}.onnx"
            _CONVERTERS[precision](onnx_path, path)
            targets.append((path, precision))

    files: dict[str, ExportedFile] = {}
    for path, precision in targets:
        errors = tolerance = None
        if check:
            errors, scale = _parity(model, spec, path, batch_sizes)
            tolerance = FP32_TOLERANCE if precision == "fp32" else _RELATIVE_TOLERANCES[precision] * max(1.0, scale)
            log.info("%s: max abs error %s (tolerance %.3g)", path.name, errors, tolerance)
            if not all(e <= tolerance for e in errors.values()):  # `not <=` also catches NaN
                detail = ", ".join(f"batch {b}: {e:.3g}" for b, e in errors.items())
                raise ParityError(f"{path.name} ({precision}, opset {opset}) differs from torch by more than "
                                  f"{tolerance:.3g} (max abs error {detail}; largest |output| {scale:.3g})")
        files[path.name] = ExportedFile(path.name, precision, sha256_file(path), path.stat().st_size, tolerance, errors)

    manifest = ExportManifest(
        name=name, opset=opset, files=files, inputs=tuple(inputs), outputs=tuple(outputs), weights=weights_ref,
        meta=spec.meta.to_json(), versions=_versions(),
        exported_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
    tmp = manifest_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    tmp.replace(manifest_file)
    return onnx_path
