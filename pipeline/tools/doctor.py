"""``sensorium doctor``: what this machine can run, and what is broken.

Each check is a value with a status: ``ok``, ``info`` (a fact, neither good nor bad),
``warn`` (something optional does not work: a GPU provider, missing weights), ``fail``, or
``skip``. Only a failed *required* check (a core package that does not import, onnxruntime's
CPU provider, a local Ray when ``--ray`` asked for it) makes the report broken.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

STATUSES = ("ok", "info", "warn", "fail", "skip")

# (label, import name, distributions that provide it, required to run pipelines)
PACKAGES = (
    ("numpy", "numpy", ("numpy",), True),
    ("torch", "torch", ("torch",), True),
    ("torchvision", "torchvision", ("torchvision",), False),
    ("onnx", "onnx", ("onnx",), True),
    ("onnxruntime", "onnxruntime", ("onnxruntime-gpu", "onnxruntime"), True),
    ("opencv", "cv2", ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless", "opencv-contrib-python"), True),
    ("open3d", "open3d", ("open3d",), False),
    ("ray", "ray", ("ray",), True),
    ("open_clip", "open_clip", ("open_clip_torch",), False),
)


@dataclass(frozen=True)
class Check:
    section: str
    name: str
    status: str
    value: str = ""
    detail: str = ""
    required: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.name!r}: expected status in {STATUSES}, got {self.status!r}")


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def broken(self) -> tuple[Check, ...]:
        """Required checks that failed: the reason ``sensorium doctor`` exits non-zero."""
        return tuple(c for c in self.checks if c.required and c.status == "fail")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": not self.broken, "broken": [c.name for c in self.broken], "checks": [asdict(c) for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _dist_version(dists: tuple[str, ...]) -> tuple[str, str] | None:
    for d in dists:
        try:
            return d, importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _versions(modules: dict[str, ModuleType]) -> list[Check]:
    checks = [Check("versions", "python", "ok" if sys.version_info[:2] == (3, 11) else "warn",
                    platform.python_version(), "" if sys.version_info[:2] == (3, 11) else "sensorium is built for Python 3.11")]
    for label, module, dists, required in PACKAGES:
        dist = _dist_version(dists)
        try:
            mod = importlib.import_module(module)  # importing is the check: a wheel can be installed and broken
        except Exception as exc:  # noqa: BLE001 - any import failure is the finding
            why = "not installed" if isinstance(exc, ModuleNotFoundError) and dist is None else _first_line(exc)
            checks.append(Check("versions", label, "fail" if required else "warn", dist[1] if dist else "-", why, required))
            continue
        modules[label] = mod
        version = dist[1] if dist else str(getattr(mod, "__version__", "?"))
        checks.append(Check("versions", label, "ok", version, dist[0] if dist and dist[0] != label else "", required))
    return checks


def _cpu() -> list[Check]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    detail = model
    try:  # a container's CPU quota (cgroup v2) can be below the cores it sees
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            detail += f"; cgroup quota {int(quota) / int(period):.1f} CPUs"
    except (OSError, ValueError):
        pass
    return [Check("system", "cpu", "info", f"{os.cpu_count()} logical, {usable} usable", detail),
            Check("system", "platform", "info", platform.platform())]


def _gpu(modules: dict[str, ModuleType]) -> list[Check]:
    checks = []
    torch = modules.get("torch")
    if torch is None:
        checks.append(Check("gpu", "torch.cuda", "skip", "", "torch does not import"))
    elif torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        checks.append(Check("gpu", "torch.cuda", "ok", f"{len(names)} device(s)", f"{', '.join(names)}; CUDA {torch.version.cuda}"))
    else:
        checks.append(Check("gpu", "torch.cuda", "info", "no CUDA device",
                            f"torch built for CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only torch build"))
    smi = shutil.which("nvidia-smi")
    if smi is None:
        checks.append(Check("gpu", "nvidia-smi", "info", "not on PATH", "no NVIDIA driver tools on this machine"))
    else:
        try:
            out = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=15)
            gpus = [line.strip() for line in out.stdout.splitlines() if line.strip()]
            ok = out.returncode == 0 and gpus
            checks.append(Check("gpu", "nvidia-smi", "ok" if ok else "warn", f"{len(gpus)} GPU(s)" if ok else f"exit {out.returncode}",
                                "; ".join(gpus) if ok else (out.stderr or out.stdout).strip()[:300]))
        except (OSError, subprocess.TimeoutExpired) as exc:
            checks.append(Check("gpu", "nvidia-smi", "warn", "failed", _first_line(exc)))
    return checks


def _onnxruntime(modules: dict[str, ModuleType]) -> list[Check]:
    if "onnxruntime" not in modules:
        return [Check("onnxruntime", "providers", "skip", "", "onnxruntime does not import")]
    from sensorium.models.hub.runtime import RuntimeConfig, available_providers, probe_providers

    built = available_providers()
    checks = [Check("onnxruntime", "built with", "info", ", ".join(built))]
    wanted = list(dict.fromkeys([*RuntimeConfig().ort_providers, *built]))  # the default request first
    for provider, reason in probe_providers(wanted).items():
        cpu = provider == "CPUExecutionProvider"
        status = "ok" if reason is None else "fail" if cpu else "warn"
        checks.append(Check("onnxruntime", provider, status, "loads" if reason is None else "does not load", reason or "", required=cpu))
    return checks


# a local Ray started the way every engine starts it (pipeline/cluster.py), in its own process
_RAY_SCRIPT = """
import json, time
t0 = time.perf_counter()
import ray
from sensorium.pipeline.cluster import init_ray
init_ray(num_cpus=1, log_to_driver=False)
print(json.dumps({"seconds": time.perf_counter() - t0, "cpus": ray.cluster_resources().get("CPU", 0)}))
ray.shutdown()
"""


def _ray(start: bool) -> list[Check]:
    if not start:
        return [Check("ray", "local start", "skip", "not checked", "sensorium doctor --ray starts a local Ray (takes seconds)")]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local cluster of its own, not a configured one
    t0 = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", _RAY_SCRIPT], capture_output=True, text=True, timeout=180, env=env)
    except subprocess.TimeoutExpired:
        return [Check("ray", "local start", "fail", "timed out", "ray.init did not finish in 180 s", required=True)]
    if out.returncode != 0 or not out.stdout.strip():
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return [Check("ray", "local start", "fail", f"exit {out.returncode}", " | ".join(tail), required=True)]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    return [Check("ray", "local start", "ok", f"started in {info['seconds']:.1f} s",
                  f"{info['cpus']:g} CPU(s); {time.perf_counter() - t0:.1f} s with shutdown", required=True)]


def _triton(modules: dict[str, ModuleType]) -> list[Check]:
    try:
        triton = importlib.import_module("triton")
    except Exception as exc:  # noqa: BLE001
        return [Check("triton", "triton", "warn", "not importable", _first_line(exc) + " (attention falls back to torch kernels)")]
    torch = modules.get("torch")
    gpu = torch is not None and torch.cuda.is_available()
    return [Check("triton", "triton", "ok" if gpu else "info", getattr(triton, "__version__", "?"),
                  "importable" + ("" if gpu else "; its kernels need a CUDA device, none here"))]


def _weights() -> list[Check]:
    from sensorium.models.hub.weights import list_weights, status

    checks = []
    for entry in list_weights():
        st = status(entry.name)
        state = "ok" if st.present else "fail" if st.verified is False else "warn"
        checks.append(Check("weights", entry.name, state, entry.filename, st.detail))
    return checks


def run_doctor(*, ray: bool = False) -> DoctorReport:
    """Run every check; ``ray=True`` also starts (and stops) a local Ray in a subprocess.
    A check that crashes becomes a failed (not required) check instead of ending the report."""
    modules: dict[str, ModuleType] = {}
    sections: list[tuple[str, Callable[[], list[Check]]]] = [
        ("versions", lambda: _versions(modules)), ("system", _cpu), ("gpu", lambda: _gpu(modules)),
        ("onnxruntime", lambda: _onnxruntime(modules)), ("ray", lambda: _ray(ray)), ("triton", lambda: _triton(modules)),
        ("weights", _weights),
    ]
    checks: list[Check] = []
    for section, fn in sections:
        try:
            checks += fn()
        except Exception as exc:  # noqa: BLE001 - the doctor must finish its report
            checks.append(Check(section, "check crashed", "fail", "", _first_line(exc)))
    return DoctorReport(tuple(checks))
