"""The one onnxruntime session wrapper every stage uses.

``OnnxModel`` loads a model, says loudly which requested execution providers did not load and
why (onnxruntime itself falls back to CPU with only a log line, so a GPU box can quietly run
on CPU), validates every input against the graph's signature before it reaches onnxruntime,
and runs. ``probe_providers`` answers "which providers really work here" for ``sensorium
doctor``.

Thread safety: onnxruntime sessions are safe to ``run`` from several threads at once, and so
is ``OnnxModel.run`` (IO bindings are made per call). Build the model once per process (in a
stage's ``setup()``), not per call.

The parts live beside it: :mod:`.providers` (names, availability, CUDA library preloading, the
failure hints), :mod:`.session` (session creation and onnxruntime's errors), :mod:`.tensors`
(``TensorSpec``), :mod:`.manifest` (``select_model_file``). This module keeps the public names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as _ortc

from sensorium.models.hub.manifest import MANIFEST_NAME, PRECISIONS, Precision, select_model_file
from sensorium.models.hub.providers import (CPU, CUDA_FAMILY, DEVICE_IDS, ProviderReport, available_providers, provider_name,
                                            unavailable_reason)
from sensorium.models.hub.session import OPT_LEVELS as _OPT_LEVELS
from sensorium.models.hub.session import ORT_ERRORS, checker_says, create_session, tiny_model
from sensorium.models.hub.tensors import TensorSpec

if TYPE_CHECKING:
    from sensorium.models.hub.weights import WeightsEntry

__all__ = ["CPU", "MANIFEST_NAME", "PRECISIONS", "OnnxModel", "ProviderReport", "RuntimeConfig", "TensorSpec",
           "available_providers", "probe_providers", "provider_name", "select_model_file"]

log = logging.getLogger(__name__)

#: an execution provider as a config value: a short name or onnxruntime's (checked against the aliases in the tests)
Provider = Literal[
    "tensorrt", "cuda", "cpu", "rocm", "migraphx", "openvino", "dnnl", "coreml", "dml", "nv_tensorrt_rtx",
    "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider", "ROCMExecutionProvider", "MIGraphXExecutionProvider",
    "OpenVINOExecutionProvider", "DnnlExecutionProvider", "CoreMLExecutionProvider", "DmlExecutionProvider", "NvTensorRTRTXExecutionProvider",
]
GraphOptimization = Literal["disable", "basic", "extended", "all"]  # the keys of session.OPT_LEVELS

@dataclass(frozen=True)
class RuntimeConfig:
    """How to run an ONNX model: built once at the edge, passed down as a value.

    providers: execution providers in order of preference (``tensorrt``, ``cuda``, ``cpu``, ... or
        onnxruntime names). One that does not load is reported (``OnnxModel.provider_report``)
        and logged at WARNING; if none of them loads (``cpu`` left out) the model raises.
    intra_op_threads: threads inside one operator; None leaves onnxruntime's default (one per core).
    inter_op_threads: threads across operators; only used by onnxruntime's parallel executor.
    allow_spinning: let idle onnxruntime threads busy-wait for work. Off by default: when stages
        share cores, spinning threads steal the core another stage needs; turning it off measured
        1.45x pipeline throughput on the 2-core CI machine. Turn it on for a model alone on its cores.
    graph_optimization: ``disable``, ``basic``, ``extended`` or ``all``.
    warmup_runs: runs on zeros at construction so the first real frame does not pay for
        allocation and kernel selection (TensorRT builds its engine here).
    io_binding: bind inputs/outputs explicitly; None = on when a GPU provider is active.
    precision: ``fp32``, ``fp16`` or ``int8``: which file to load when the model path is an export
        manifest that lists one (``model_fp16``/``model_int8``; fp32 otherwise, logged). ``fp16``
        also enables TensorRT's fp16 kernels. ``int8`` (dynamically quantised matrix products)
        is the CPU speed option; GPU providers run its quantised nodes on the CPU.
    preload_cuda_libs: when the NVIDIA driver is present, load CUDA/cuDNN from the ``nvidia-*`` pip
        packages (those torch's CUDA wheel brings) before a CUDA-family provider is created, so it
        loads even if torch was not imported first.
    tensorrt_cache_dir: where TensorRT keeps built engines (minutes to build); None = rebuild per process.
    """

    providers: tuple[str, ...] = ("tensorrt", "cuda", "cpu")
    device_id: int = 0
    intra_op_threads: int | None = None
    inter_op_threads: int = 1
    allow_spinning: bool = False
    graph_optimization: GraphOptimization = "all"
    warmup_runs: int = 1
    io_binding: bool | None = None
    precision: Precision = "fp32"
    preload_cuda_libs: bool = True
    tensorrt_cache_dir: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.providers, str) or not isinstance(self.providers, Sequence) or not self.providers:
            raise ValueError(f"providers: expected a non-empty sequence of provider names, got {self.providers!r}")
        object.__setattr__(self, "providers", tuple(self.providers))
        resolved = [provider_name(p) for p in self.providers]
        if len(set(resolved)) != len(resolved):
            raise ValueError(f"providers: expected each provider once, got {self.providers!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.graph_optimization not in _OPT_LEVELS:
            raise ValueError(f"graph_optimization: expected one of {', '.join(_OPT_LEVELS)}, got {self.graph_optimization!r}")
        for name, value, low in (("device_id", self.device_id, 0), ("inter_op_threads", self.inter_op_threads, 1),
                                 ("warmup_runs", self.warmup_runs, 0), ("intra_op_threads", self.intra_op_threads, 1)):
            if name == "intra_op_threads" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")

    @property
    def ort_providers(self) -> tuple[str, ...]:
        return tuple(provider_name(p) for p in self.providers)


def _provider_options(provider: str, config: RuntimeConfig) -> dict[str, str]:
    opts: dict[str, str] = {}
    if provider in DEVICE_IDS:
        opts["device_id"] = str(config.device_id)
    if provider == "TensorrtExecutionProvider":
        if config.precision == "fp16":
            opts["trt_fp16_enable"] = "True"
        if config.tensorrt_cache_dir:
            opts.update(trt_engine_cache_enable="True", trt_engine_cache_path=str(config.tensorrt_cache_dir))
    return opts


def _session_options(config: RuntimeConfig, logid: str) -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.graph_optimization_level = _OPT_LEVELS[config.graph_optimization]
    if config.intra_op_threads is not None:
        so.intra_op_num_threads = config.intra_op_threads
    so.inter_op_num_threads = config.inter_op_threads
    spin = "1" if config.allow_spinning else "0"
    so.add_session_config_entry("session.intra_op.allow_spinning", spin)
    so.add_session_config_entry("session.inter_op.allow_spinning", spin)
    so.logid = logid
    return so


def _load_session(path: Path, name: str, config: RuntimeConfig) -> tuple[ort.InferenceSession, ProviderReport]:
    """A session on the requested providers that load, and the report of those that did not.

    Raises ValueError for a file that is not a loadable model, RuntimeError when none of the
    requested providers loads; logs a WARNING naming each one that did not."""
    requested = config.ort_providers
    failed: dict[str, str] = {}
    candidates = []
    for p in requested:
        reason = unavailable_reason(p, config.preload_cuda_libs) if p != CPU else None
        if reason:
            failed[p] = reason
        else:
            candidates.append((p, _provider_options(p, config)))
    try:
        session, create_failed = create_session(str(path), _session_options(config, name), candidates)
    except ORT_ERRORS as exc:
        raise ValueError(f"model {name}: {path} is not a loadable ONNX model: onnxruntime says "
                         f"{str(exc).strip()}; onnx.checker says {checker_says(path)}") from None
    failed.update(create_failed)
    active = tuple(session.get_providers()) if session is not None else ()
    for p, _ in candidates:
        if p not in active and p not in failed:
            failed[p] = ("onnxruntime created the session without it (its library loads; no usable device, "
                         "or see onnxruntime's log on stderr)")
    failed = {p: failed[p] for p in requested if p in failed}  # in order of preference
    report = ProviderReport(requested, active, failed)
    if not any(p in active for p in requested):
        raise RuntimeError(f"model {name}: none of the requested providers loaded (add 'cpu' to "
                           f"RuntimeConfig.providers to allow CPU):\n{report}")
    if failed:
        log.warning("model %s: requested %s did not load, running on %s; %s", name, ", ".join(failed),
                    ", ".join(active), "; ".join(f"{p}: {why}" for p, why in failed.items()))
    return session, report


class OnnxModel:
    """An onnxruntime session with validated inputs and an honest provider report.

    ``model.run(x)`` / ``model.run({"images": x})`` / ``model.run([a, b])`` → ``{output name: array}``.
    Inputs are numpy arrays of exactly the graph's dtype and fixed dims (symbolic dims are free);
    nothing is cast silently. Raises FileNotFoundError for a missing file, ValueError for a file
    that is not a loadable ONNX model, RuntimeError when none of the requested providers loads.
    """

    def __init__(self, path: str | Path, config: RuntimeConfig = RuntimeConfig(), *, name: str | None = None) -> None:
        self.config = config
        self.path = select_model_file(path, config.precision)
        self.name = name or self.path.stem
        self.weights: WeightsEntry | None = None
        if not self.path.is_file():
            raise FileNotFoundError(f"model {self.name}: ONNX file not found: {self.path}")
        self._session, self.provider_report = _load_session(self.path, self.name, config)
        active = self.provider_report.active
        self.inputs = tuple(TensorSpec.from_node_arg(a) for a in self._session.get_inputs())
        self.outputs = tuple(TensorSpec.from_node_arg(a) for a in self._session.get_outputs())
        self._input_names = {s.name: s for s in self.inputs}
        self._output_names = [s.name for s in self.outputs]
        gpu = next((p for p in active if p != CPU), None)
        self.io_binding = config.io_binding if config.io_binding is not None else gpu is not None
        self._device = ("cuda", config.device_id) if gpu in CUDA_FAMILY else ("cpu", 0)
        self.warmup_ms = self._warm_up(config.warmup_runs) if config.warmup_runs else None
        log.info("model %s loaded from %s on %s", self.name, self.path, ", ".join(active))

    @classmethod
    def from_weights(cls, name: str, config: RuntimeConfig = RuntimeConfig(), *, cache_dir: str | Path | None = None,
                     allow_download: bool = False) -> OnnxModel:
        """Load registered weights (:mod:`sensorium.models.hub.weights`) by name, verified by sha256; ``model.weights``
        then carries their contract (input size, mean/std, channel order, labels)."""
        from sensorium.models.hub.weights import get_weights, resolve

        entry = get_weights(name)
        if entry.format != "onnx":
            raise ValueError(f"weights {name!r}: expected format 'onnx', got {entry.format!r}")
        model = cls(resolve(name, cache_dir=cache_dir, allow_download=allow_download), config, name=name)
        model.weights = entry
        return model

    @property
    def providers(self) -> tuple[str, ...]:
        """Providers the session runs on, in onnxruntime's order of preference."""
        return self.provider_report.active

    @property
    def session(self) -> ort.InferenceSession:
        return self._session

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name}: {s}" for s in self.inputs)
        return f"OnnxModel({self.name!r}, inputs=[{ins}], providers={list(self.providers)})"

    def _warm_up(self, runs: int) -> float | None:
        feeds = {s.name: s.example() for s in self.inputs}
        if any(v is None for v in feeds.values()):
            log.debug("model %s: no warm-up (a non-numeric input)", self.name)
            return None
        t0 = time.perf_counter()
        try:
            for _ in range(runs):
                self.run(feeds)
        except (ValueError, RuntimeError) as exc:  # a graph may reject size-1 symbolic dims; real inputs decide
            log.warning("model %s: warm-up on zeros failed (%s); the first real run will show whether it works", self.name, exc)
            return None
        return (time.perf_counter() - t0) * 1e3

    def _feeds(self, feeds: Mapping[str, np.ndarray] | np.ndarray | Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        expected = ", ".join(f"'{s.name}' {s}" for s in self.inputs)
        if isinstance(feeds, np.ndarray):
            if len(self.inputs) != 1:
                raise ValueError(f"model {self.name}: expected {len(self.inputs)} inputs ({expected}), got one array; pass a dict")
            feeds = {self.inputs[0].name: feeds}
        elif isinstance(feeds, Mapping):
            feeds = dict(feeds)
        elif isinstance(feeds, Sequence) and not isinstance(feeds, (str, bytes)):
            if len(feeds) != len(self.inputs):
                raise ValueError(f"model {self.name}: expected {len(self.inputs)} arrays ({expected}), got {len(feeds)}")
            feeds = {s.name: a for s, a in zip(self.inputs, feeds)}
        else:
            raise TypeError(f"model {self.name}: expected a dict of arrays, an array or a sequence, got {type(feeds).__name__}")
        unknown = [k for k in feeds if k not in self._input_names]
        if unknown:
            raise ValueError(f"model {self.name}: unknown input {', '.join(map(repr, unknown))}; expected inputs {expected}")
        missing = [s.name for s in self.inputs if s.name not in feeds]
        if missing:
            raise ValueError(f"model {self.name}: missing input {', '.join(map(repr, missing))}; expected inputs {expected}")
        out = {}
        for spec in self.inputs:
            array = feeds[spec.name]
            if not isinstance(array, np.ndarray):
                raise TypeError(f"model {self.name} input '{spec.name}': expected a numpy array {spec}, got {type(array).__name__}")
            if not spec.accepts(array):
                raise ValueError(f"model {self.name} input '{spec.name}': expected {spec}, got {tuple(array.shape)} {array.dtype}")
            out[spec.name] = np.ascontiguousarray(array)
        return out

    def run(self, feeds: Mapping[str, np.ndarray] | np.ndarray | Sequence[np.ndarray],
            output_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Run the graph. ``feeds``: a dict by input name, one array (single-input models) or a
        sequence in input order. Returns the requested outputs (default: all) by name, as numpy arrays."""
        arrays = self._feeds(feeds)
        names = list(output_names) if output_names is not None else self._output_names
        unknown = [n for n in names if n not in self._output_names]
        if unknown:
            raise ValueError(f"model {self.name}: unknown output {', '.join(map(repr, unknown))}; "
                             f"expected some of {', '.join(map(repr, self._output_names))}")
        try:
            if self.io_binding:
                binding = self._session.io_binding()
                for k, v in arrays.items():
                    binding.bind_cpu_input(k, v)
                for n in names:
                    binding.bind_output(n, *self._device)
                self._session.run_with_iobinding(binding)
                results = binding.copy_outputs_to_cpu()
            else:
                results = self._session.run(names, arrays)
        except _ortc.InvalidArgument as exc:
            raise ValueError(f"model {self.name}: onnxruntime rejected the inputs: {exc}") from None
        except ORT_ERRORS as exc:
            raise RuntimeError(f"model {self.name}: onnxruntime failed on {', '.join(self.providers)}: {exc}") from exc
        return dict(zip(names, results))


def probe_providers(providers: Sequence[str] | None = None, config: RuntimeConfig = RuntimeConfig()) -> dict[str, str | None]:
    """For each provider (default: every one this onnxruntime was built with), try a real session
    on a tiny in-memory model and run it: None = it loads and runs, else the reason it does not."""
    names = [provider_name(p) for p in providers] if providers is not None else available_providers()
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    result: dict[str, str | None] = {}
    for p in names:
        reason = unavailable_reason(p, config.preload_cuda_libs)
        if reason is None:
            try:
                session, failed = create_session(tiny_model(), _session_options(config, "probe"),
                                                 [(p, _provider_options(p, config))])
                if session is None:
                    reason = failed.get(p, "session creation failed")
                elif p not in session.get_providers():
                    reason = "onnxruntime created the session without it (no usable device? see its log on stderr)"
                elif not np.array_equal(session.run(None, {"x": x})[0], x + x):
                    reason = "runs but computes a wrong result"
            except ORT_ERRORS as exc:
                reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        result[p] = reason
    return result
