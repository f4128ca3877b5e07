"""Execution providers: their names, which are built in, which really load here and why not.

onnxruntime falls back to CPU with only a log line when a GPU provider does not load, so the
reasons are found here first (the NVIDIA driver, the provider's shared library, the CUDA/cuDNN
libraries it needs), with a hint at the fix.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import onnxruntime as ort

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
ALIASES = {
    "tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider", "cpu": CPU,
    "rocm": "ROCMExecutionProvider", "migraphx": "MIGraphXExecutionProvider", "openvino": "OpenVINOExecutionProvider",
    "dnnl": "DnnlExecutionProvider", "coreml": "CoreMLExecutionProvider", "dml": "DmlExecutionProvider",
    "nv_tensorrt_rtx": "NvTensorRTRTXExecutionProvider",
}
# Providers that live in a shared library beside onnxruntime: loading it ourselves first gives
# the real reason (a missing libcublas, libnvinfer) instead of onnxruntime's log line.
_PROVIDER_LIBRARIES = {
    "CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "tensorrt", "ROCMExecutionProvider": "rocm",
    "MIGraphXExecutionProvider": "migraphx", "OpenVINOExecutionProvider": "openvino", "DnnlExecutionProvider": "dnnl",
    "NvTensorRTRTXExecutionProvider": "nv_tensorrt_rtx",
}
CUDA_FAMILY = {"CUDAExecutionProvider", "TensorrtExecutionProvider", "NvTensorRTRTXExecutionProvider"}
#: providers that take a ``device_id`` option
DEVICE_IDS = CUDA_FAMILY | {"ROCMExecutionProvider", "MIGraphXExecutionProvider"}


def provider_name(name: str) -> str:
    """``"cuda"`` → ``"CUDAExecutionProvider"``; full onnxruntime names pass through."""
    if name in ALIASES.values():
        return name
    try:
        return ALIASES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown execution provider {name!r}: expected one of {', '.join(ALIASES)} "
                         f"or an onnxruntime name like CUDAExecutionProvider") from None


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


def unavailable_reason(provider: str, preload: bool) -> str | None:
    """Why a provider cannot be used, found without creating a session; None if nothing is known against it."""
    if provider not in ort.get_available_providers():
        return (f"not built into this onnxruntime ({_build_info('package_name', 'onnxruntime')} {ort.__version__} "
                f"has {', '.join(ort.get_available_providers())})")
    if provider in CUDA_FAMILY:
        if (err := _driver_error()) is not None:
            return err
        if preload:
            _preload_cuda_libs()
    return _library_error(provider, _preloaded)
