"""Provider names, what this onnxruntime has built in, and the reasons a provider cannot load."""

from __future__ import annotations

import onnxruntime as ort
import pytest

from sensorium.models.hub.providers import CPU, ProviderReport, available_providers, provider_name, unavailable_reason


@pytest.mark.parametrize(
    "name, expected",
    [
        ("cuda", "CUDAExecutionProvider"),
        ("CUDA", "CUDAExecutionProvider"),
        ("tensorrt", "TensorrtExecutionProvider"),
        ("cpu", CPU),
        ("OpenVINOExecutionProvider", "OpenVINOExecutionProvider"),  # full names pass through
    ],
)
def test_provider_name_resolves_aliases(name, expected):
    assert provider_name(name) == expected


@pytest.mark.parametrize("name", ["gpu", "", "CudaExecutionProvider"])
def test_unknown_provider_name_says_what_is_known(name):
    with pytest.raises(ValueError, match=rf"unknown execution provider {name!r}: expected one of tensorrt, cuda, cpu"):
        provider_name(name)


def test_available_providers_is_what_onnxruntime_has_built_in():
    assert available_providers() == ort.get_available_providers() and CPU in available_providers()


def test_a_provider_not_built_in_is_named_with_what_is():
    missing = next(p for p in ("CoreMLExecutionProvider", "DmlExecutionProvider") if p not in available_providers())
    reason = unavailable_reason(missing, preload=False)
    assert reason.startswith("not built into this onnxruntime (") and ort.__version__ in reason
    assert ", ".join(available_providers()) in reason
    assert unavailable_reason(CPU, preload=False) is None


def test_provider_report_lists_failures_in_order():
    report = ProviderReport(("CUDAExecutionProvider", CPU), (CPU,), {"CUDAExecutionProvider": "NVIDIA driver not found"})
    assert not report.ok
    assert str(report).splitlines() == [f"requested CUDAExecutionProvider, {CPU}; active {CPU}",
                                        "CUDAExecutionProvider failed: NVIDIA driver not found"]
    assert ProviderReport((CPU,), (CPU,)).ok and str(ProviderReport((CPU,), ())) == f"requested {CPU}; active none"
