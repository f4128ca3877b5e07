"""``sensorium train pose`` end to end on a tiny budget: caches, head, JSON with the command."""

from __future__ import annotations

import json

from typer.testing import CliRunner


def test_train_pose_runs_end_to_end(tmp_path, data_dir):
    from sensorium.deploy.cli import app

    out = tmp_path / "run"
    args = ["train", "pose", "--out", str(out), "--frames", "1", "--held-out-frames", "1", "--repeats", "1", "--steps", "3",
            "--data", str(data_dir), "--ship", str(tmp_path / "shipped" / "head.onnx")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    held_out = json.loads(res.output.strip().splitlines()[-1])
    assert held_out["points"] > 0 and 0 <= held_out["coverage_2sigma"] <= 1
    info = json.loads((tmp_path / "shipped" / "head.json").read_text())
    assert info["command"].startswith("sensorium train pose --out") and "--steps 3" in info["command"]
    assert (out / "cache_train.npz").is_file() and (out / "metrics.json").is_file()


def test_train_pose_names_a_bad_option(tmp_path):
    from sensorium.deploy.cli import app

    res = CliRunner().invoke(app, ["train", "pose", "--out", str(tmp_path), "--steps", "0"])
    assert res.exit_code == 2 and "steps" in res.output
