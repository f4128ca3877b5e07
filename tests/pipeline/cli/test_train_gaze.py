"""``sensorium train gaze`` end to end on a tiny budget: real faces in, a head and its metrics out."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sensorium.pipeline.cli.train import train_app


def test_train_gaze_end_to_end_on_a_tiny_budget(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("SENSORIUM_DATA", str(data_dir))
    out = tmp_path / "run"
    result = CliRunner().invoke(train_app, ["gaze", "--out", str(out), "--steps", "5", "--stride", "90", "--heldout-stride", "40",
                                            "--per-image", "3", "--threads", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["samples"] > 0 and report["train_samples"] >= 20
    assert {"mean_error_raw_deg", "coverage_2sigma", "predicted_2sigma", "spearman_sigma_error"} <= set(report)
    meta = json.loads((out / "gaze_sigma.json").read_text())
    assert (out / "gaze_sigma.onnx").is_file() and meta["command"].startswith("sensorium train gaze")
    assert list(out.glob("features_*.npz"))  # features cached for the next run


def test_train_gaze_names_a_missing_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SENSORIUM_DATA", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(train_app, ["gaze", "--out", str(tmp_path / "run"), "--steps", "1"])
    flat = result.output.replace("\n", "")  # rich wraps long lines
    assert result.exit_code == 2 and "short_hamilton_clip.mp4 does not open" in flat and "SENSORIUM_DATA" in flat
