"""The one onnxruntime session wrapper every stage uses.

``OnnxModel`` loads a model, says loudly which requested execution providers did not load and
why (onnxruntime itself falls back to CPU with only a log line, so a GPU box can quietly run
on CPU), validates every input against the graph's signature before it reaches onnxruntime,
and runs. ``probe_providers`` answers "which providers really work here" for ``sensorium
doctor``.

Thread safety: onnxruntime sessions are safe to ``run`` from several threads at once, and so
is ``OnnxModel.run`` (IO bindings are made per call). Build the model once per process (in a
stage's ``setup()``), not per call.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import json
import logging
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as _ortc

if TYPE_CHECKING:
    from sensorium.models.hub.weights import WeightsEntry

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
_ALIASES = {
    "tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider", "cpu": CPU,
    "rocm": "ROCMExecutionProvider", "migraphx": "MIGraphXExecutionProvider", "openvino": "OpenVINOExecutionProvider",
    "dnnl": "DnnlExecutionProvider", "coreml": "CoreMLExecutionProvider", "dml": "DmlExecutionProvider",
    "nv_tensorrt_rtx": "NvTensorRTRTXExecutionProvider",
}
#: an execution provider as a config value: a short name or onnxruntime's (checked against _ALIASES in the tests)
Provider = Literal[
    "tensorrt", "cuda", "cpu", "rocm", "migraphx", "openvino", "dnnl", "coreml", "dml", "nv_tensorrt_rtx",
    "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider", "ROCMExecutionProvider", "MIGraphXExecutionProvider",
    "OpenVINOExecutionProvider", "DnnlExecutionProvider", "CoreMLExecutionProvider", "DmlExecutionProvider", "NvTensorRTRTXExecutionProvider",
]
# Providers that live in a shared library beside onnxruntime: loading it ourselves first gives
# the real reason (a missing libcublas, libnvinfer) instead of onnxruntime's log line.
_PROVIDER_LIBRARIES = {
    "CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "tensorrt", "ROCMExecutionProvider": "rocm",
    "MIGraphXExecutionProvider": "migraphx", "OpenVINOExecutionProvider": "openvino", "DnnlExecutionProvider": "dnnl",
    "NvTensorRTRTXExecutionProvider": "nv_tensorrt_rtx",
}
_CUDA_FAMILY = {"CUDAExecutionProvider", "TensorrtExecutionProvider", "NvTensorRTRTXExecutionProvider"}
_DEVICE_IDS = _CUDA_FAMILY | {"ROCMExecutionProvider", "MIGraphXExecutionProvider"}
_OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int8)": np.int8, "tensor(int16)": np.int16, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16, "tensor(uint32)": np.uint32, "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_, "tensor(string)": np.object_,
}
# Errors that mean "this file is not a loadable model", whichever provider was asked for.
_MODEL_ERRORS = (_ortc.InvalidProtobuf, _ortc.InvalidGraph, _ortc.NoModel, _ortc.NoSuchFile)
_ORT_ERRORS = (_ortc.Fail, _ortc.InvalidArgument, _ortc.RuntimeException, _ortc.EPFail, _ortc.NotImplemented,
               _ortc.EngineError, *_MODEL_ERRORS, RuntimeError, ValueError)

MANIFEST_NAME = "manifest.json"  # a folder's manifest when not NAME.manifest.json: {"model": "x.onnx", "model_fp16": ...}
Precision = Literal["fp32", "fp16", "int8"]  # the files an export can hold; see models/hub/export.py
PRECISIONS: tuple[str, ...] = get_args(Precision)
GraphOptimization = Literal["disable", "basic", "extended", "all"]  # the keys of _OPT_LEVELS


def provider_name(name: str) -> str:
    """``"cuda"`` → ``"CUDAExecutionProvider"``; full onnxruntime names pass through."""
    if name in _ALIASES.values():
        return name
    try:
        return _ALIASES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown execution provider {name!r}: expected one of {', '.join(_ALIASES)} "
                         f"or an onnxruntime name like CUDAExecutionProvider") from None


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


@dataclass(frozen=True)
class ProviderReport:
    """Which providers were requested, which the session runs on, and why the others did not load."""

    requested: tuple[str, ...]
    active: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        lines = [f"requested {', '.join(self.requested)}; active {', '.join(self.active) or 'none'}"]
        lines += [f"{p} failed: {why}" for p, why in self.failed.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: symbolic dims are strings (or None when unnamed);
    ``dtype`` is None for types numpy cannot hold (bfloat16, sequences, maps)."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: np.dtype | None
    onnx_type: str

    @classmethod
    def from_node_arg(cls, arg: Any) -> TensorSpec:
        dt = _DTYPES.get(arg.type)
        shape = tuple(d if isinstance(d, (int, str)) and d != -1 else None for d in (arg.shape or ()))
        return cls(arg.name, shape, np.dtype(dt) if dt is not None else None, arg.type)

    def accepts(self, array: np.ndarray) -> bool:
        if self.dtype is not None and array.dtype != self.dtype:
            return False
        if len(self.shape) != array.ndim:
            return False
        return all(not isinstance(d, int) or d == n for d, n in zip(self.shape, array.shape))

    def example(self) -> np.ndarray | None:
        """Zeros of a valid shape (symbolic dims → 1), for warm-up; None if not a numeric tensor."""
        if self.dtype is None or self.dtype == np.object_:
            return None
        return np.zeros(tuple(d if isinstance(d, int) and d > 0 else 1 for d in self.shape), self.dtype)

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"({dims}{',' if len(self.shape) == 1 else ''}) {self.dtype if self.dtype is not None else self.onnx_type}"


def available_providers() -> list[str]:
    """Providers compiled into the installed onnxruntime (not proof that they load: see ``probe_providers``)."""
    return list(ort.get_available_providers())


_preload_lock = threading.Lock()
_preloaded = False


def _preload_cuda_libs() -> None:
    """Load CUDA/cuDNN from nvidia pip packages once per process; onnxruntime ``print``s its
    complaints, so they are routed to logging instead of stdout."""
    global _preloaded
    with _preload_lock:
        if _preloaded or not hasattr(ort, "preload_dlls"):
            return
        _preloaded = True
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                ort.preload_dlls()
        except Exception as exc:  # noqa: BLE001 - best effort; the provider check below reports the outcome
            log.debug("onnxruntime.preload_dlls failed: %s", exc)
        if out.getvalue().strip():
            log.debug("onnxruntime.preload_dlls: %s", out.getvalue().strip())


def _build_info(key: str, default: str) -> str:
    try:
        from onnxruntime.capi import build_and_package_info
    except ImportError:
        return default
    return str(getattr(build_and_package_info, key, None) or default)


def _hint(reason: str) -> str:
    cuda = _build_info("cuda_version", "?")
    if "libnvinfer" in reason or "nvinfer" in reason:
        return "TensorRT libraries not found: install TensorRT 10 for CUDA " + cuda
    if any(lib in reason for lib in ("cublas", "cudnn", "cudart", "cufft", "curand")):
        return f"CUDA {cuda} / cuDNN 9 runtime libraries not found (pip install onnxruntime-gpu[cuda,cudnn] or a matching torch CUDA wheel)"
    return ""


@functools.lru_cache(maxsize=None)
def _library_error(provider: str, preloaded: bool) -> str | None:
    """Why the provider's shared library cannot be loaded, or None (also None when it has none).
    ``preloaded`` is part of the cache key: preloading CUDA changes the answer."""
    stem = _PROVIDER_LIBRARIES.get(provider)
    if stem is None:
        return None
    capi = Path(ort.__file__).parent / "capi"
    name = {"win32": f"onnxruntime_providers_{stem}.dll", "darwin": f"libonnxruntime_providers_{stem}.dylib"}.get(
        sys.platform, f"libonnxruntime_providers_{stem}.so")
    if not (capi / name).is_file():
        return None
    try:
        ctypes.CDLL(str(capi / name))
    except OSError as exc:
        hint = _hint(str(exc))
        return f"cannot load {name}: {exc}" + (f" ({hint})" if hint else "")
    return None


@functools.lru_cache(maxsize=1)
def _driver_error() -> str | None:
    """Why the NVIDIA driver cannot be used, or None. Checked before anything CUDA is loaded:
    preloading the CUDA libraries costs ~190 MB of resident memory per process, for nothing on a CPU machine."""
    if sys.platform == "darwin":
        return "CUDA does not run on macOS"
    lib = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        ctypes.CDLL(lib)
    except OSError as exc:
        return f"NVIDIA driver not found ({exc}): no GPU here, or its driver is not installed"
    return None


def _unavailable_reason(provider: str, preload: bool) -> str | None:
    """Why a provider cannot be used, found without creating a session; None if nothing is known against it."""
    if provider not in ort.get_available_providers():
        return (f"not built into this onnxruntime ({_build_info('package_name', 'onnxruntime')} {ort.__version__} "
                f"has {', '.join(ort.get_available_providers())})")
    if provider in _CUDA_FAMILY:
        if (err := _driver_error()) is not None:
            return err
        if preload:
            _preload_cuda_libs()
    return _library_error(provider, _preloaded)


def _provider_options(provider: str, config: RuntimeConfig) -> dict[str, str]:
    opts: dict[str, str] = {}
    if provider in _DEVICE_IDS:
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


def _is_model_error(exc: BaseException) -> bool:
    return isinstance(exc, _MODEL_ERRORS) or (isinstance(exc, (_ortc.InvalidArgument, _ortc.Fail)) and "Load model from" in str(exc))


def _create_session(source: str | bytes, so: ort.SessionOptions, candidates: list[tuple[str, dict[str, str]]],
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
        except _ORT_ERRORS as exc:
            gpu = [name for name, _ in remaining if name != CPU]
            if _is_model_error(exc) or not gpu:
                raise
            failed[gpu[0]] = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            remaining = [(n, o) for n, o in remaining if n != gpu[0]]
    return None, failed


def _checker_says(path: Path) -> str:
    try:
        import onnx

        onnx.checker.check_model(str(path))
    except Exception as exc:  # noqa: BLE001 - only used to enrich an error message
        return str(exc).strip().splitlines()[0]
    return "passes onnx.checker"


def _manifest_for(path: Path, precision: str) -> Path | None:
    """The export manifest that decides which file to load, or None to load ``path`` as given."""
    if path.suffix == ".json":
        return path
    if path.is_dir():
        found = sorted(path.glob("*.manifest.json")) or sorted(path.glob(MANIFEST_NAME))
        if len(found) != 1:
            raise ValueError(f"model folder {path}: expected one *.manifest.json (or {MANIFEST_NAME}), "
                             f"got {', '.join(f.name for f in found) or 'none'}")
        return found[0]
    if precision != "fp32":  # export.py writes out/NAME.onnx, out/NAME.<precision>.onnx and out/NAME.manifest.json
        stem = path.name.removesuffix(".onnx").removesuffix(".fp16").removesuffix(".int8")
        sibling = path.with_name(stem + ".manifest.json")
        return sibling if sibling.is_file() else None
    return None


def select_model_file(path: str | Path, precision: str = "fp32") -> Path:
    """The .onnx file to load: ``path`` itself, or the file an export manifest names.

    The manifest is ``path`` (a .json file), the one manifest in folder ``path``, or, with a
    ``precision`` other than fp32, the ``NAME.manifest.json`` beside ``NAME.onnx``. Its ``model``
    entry names the fp32 file, ``model_fp16``/``model_int8`` the others (relative to the
    manifest); ``precision`` picks one of those when the manifest lists it.
    """
    path = Path(path)
    manifest = _manifest_for(path, precision)
    if manifest is None:
        return path
    if not manifest.is_file():
        raise FileNotFoundError(f"model manifest not found: {manifest}")
    try:
        entries = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"model manifest {manifest}: expected JSON, got an unreadable file ({exc})") from None
    if not isinstance(entries, dict) or not isinstance(entries.get("model"), str):
        got = sorted(entries) if isinstance(entries, dict) else type(entries).__name__
        raise ValueError(f"model manifest {manifest}: expected a 'model' entry naming the .onnx file, got {got}")
    key = f"model_{precision}" if isinstance(entries.get(f"model_{precision}"), str) else "model"
    if precision != "fp32" and key == "model":
        log.info("model manifest %s lists no %s file; using %s", manifest, precision, entries["model"])
    return manifest.parent / entries[key]


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

        requested = config.ort_providers
        failed: dict[str, str] = {}
        candidates = []
        for p in requested:
            reason = _unavailable_reason(p, config.preload_cuda_libs) if p != CPU else None
            if reason:
                failed[p] = reason
            else:
                candidates.append((p, _provider_options(p, config)))
        try:
            session, create_failed = _create_session(str(self.path), _session_options(config, self.name), candidates)
        except _ORT_ERRORS as exc:
            raise ValueError(f"model {self.name}: {self.path} is not a loadable ONNX model: onnxruntime says "
                             f"{str(exc).strip()}; onnx.checker says {_checker_says(self.path)}") from None
        failed.update(create_failed)
        active = tuple(session.get_providers()) if session is not None else ()
        for p, _ in candidates:
            if p not in active and p not in failed:
                failed[p] = ("onnxruntime created the session without it (its library loads; no usable device, "
                             "or see onnxruntime's log on stderr)")
        failed = {p: failed[p] for p in requested if p in failed}  # in order of preference
        self.provider_report = ProviderReport(requested, active, failed)
        if not any(p in active for p in requested):
            raise RuntimeError(f"model {self.name}: none of the requested providers loaded (add 'cpu' to "
                               f"RuntimeConfig.providers to allow CPU):\n{self.provider_report}")
        if failed:
            log.warning("model %s: requested %s did not load, running on %s; %s", self.name, ", ".join(failed),
                        ", ".join(active), "; ".join(f"{p}: {why}" for p, why in failed.items()))
        self._session = session
        self.inputs = tuple(TensorSpec.from_node_arg(a) for a in session.get_inputs())
        self.outputs = tuple(TensorSpec.from_node_arg(a) for a in session.get_outputs())
        self._input_names = {s.name: s for s in self.inputs}
        self._output_names = [s.name for s in self.outputs]
        gpu = next((p for p in active if p != CPU), None)
        self.io_binding = config.io_binding if config.io_binding is not None else gpu is not None
        self._device = ("cuda", config.device_id) if gpu in _CUDA_FAMILY else ("cpu", 0)
        self.warmup_ms = self._warm_up(config.warmup_runs) if config.warmup_runs else None
        log.info("model %s loaded from %s on %s", self.name, self.path, ", ".join(active))

    @classmethod
    def from_weights(cls, name: str, config: RuntimeConfig = RuntimeConfig(), *, cache_dir: str | Path | None = None,
                     allow_download: bool = False) -> OnnxModel:
        """Load registered weights (``models.weights``) by name, verified by sha256; ``model.weights``
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
        except _ORT_ERRORS as exc:
            raise RuntimeError(f"model {self.name}: onnxruntime failed on {', '.join(self.providers)}: {exc}") from exc
        return dict(zip(names, results))


@functools.lru_cache(maxsize=1)
def _tiny_model() -> bytes:
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


def probe_providers(providers: Sequence[str] | None = None, config: RuntimeConfig = RuntimeConfig()) -> dict[str, str | None]:
    """For each provider (default: every one this onnxruntime was built with), try a real session
    on a tiny in-memory model and run it: None = it loads and runs, else the reason it does not."""
    names = [provider_name(p) for p in providers] if providers is not None else available_providers()
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    result: dict[str, str | None] = {}
    for p in names:
        reason = _unavailable_reason(p, config.preload_cuda_libs)
        if reason is None:
            try:
                session, failed = _create_session(_tiny_model(), _session_options(config, "probe"),
                                                  [(p, _provider_options(p, config))])
                if session is None:
                    reason = failed.get(p, "session creation failed")
                elif p not in session.get_providers():
                    reason = "onnxruntime created the session without it (no usable device? see its log on stderr)"
                elif not np.array_equal(session.run(None, {"x": x})[0], x + x):
                    reason = "runs but computes a wrong result"
            except _ORT_ERRORS as exc:
                reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        result[p] = reason
    return result
