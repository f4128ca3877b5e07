"""The command line, end to end: real Ray, real files, real OpenCV/Open3D."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from sensorium.pipeline.cli.run import app
from sensorium.pipeline.io.sample import make_sample

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_run_with_no_arguments_processes_the_bundled_sample(tmp_path):
    """`sensorium run` in a fresh process: both sample sources through depth into every default sink."""
    env = {**os.environ, "RAY_ADDRESS": ""}  # a local Ray of its own, not the tests' cluster
    proc = subprocess.run([str(Path(sys.executable).parent / "sensorium"), "run", "--out", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fps" in proc.stdout and "depth" in proc.stdout  # the summary table
    frames = _lines(tmp_path / "frames.jsonl")
    by_source = {sid: [f for f in frames if f["source_id"] == sid] for sid in ("sample", "sample-rgbd")}
    assert [f["seq"] for f in by_source["sample"]] == list(range(8))
    assert [f["seq"] for f in by_source["sample-rgbd"]] == list(range(8))
    assert all(not f["errors"] for f in frames)
    # the arrays agree with the sample's ground truth (same seed as the bundled default)
    gt = make_sample()
    for sid, tol in (("sample", 0.10), ("sample-rgbd", 0.01)):
        with np.load(tmp_path / "arrays" / f"{sid}_000003.npz") as z:
            depth = z["depth"]
            assert set(z.files) >= {"depth", "confidence", "K"}
        truth = gt.depths[3]
        ok = (depth > 0) & (truth > 0)
        assert ok.mean() > 0.8
        rel = np.abs(depth[ok] - truth[ok]) / truth[ok]
        assert np.median(rel) < tol, (sid, float(np.median(rel)))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == {"sample": 8, "sample-rgbd": 8}
    # no stage made point clouds (depth.point_cloud is off by default): no ply sink among the defaults
    assert [s["sink"] for s in summary["sinks"].values()] == ["jsonl", "npz", "video"] and not (tmp_path / "clouds").exists()
    cap = cv2.VideoCapture(str(tmp_path / "sample.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    cap.release()


def test_stereo_pair_from_two_files_without_calibration(tmp_path, ray_cluster):
    from skimage.data import stereo_motorcycle

    left, right, _disp = stereo_motorcycle()
    lp, rp = tmp_path / "L.png", tmp_path / "R.png"
    cv2.imwrite(str(lp), cv2.cvtColor(left, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(rp), cv2.cvtColor(right, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", "--left", str(lp), "--right", str(rp), "--stages", "depth", "--out", str(out),
                              "--sinks", "jsonl,npz", "--set", "depth.num_disparities=128"])
    assert res.exit_code == 0, res.output
    (frame,) = _lines(out / "frames.jsonl")
    assert not frame["errors"]
    (npz,) = (out / "arrays").glob("*.npz")
    with np.load(npz) as z:
        disp = z["disparity"]
    assert disp.shape == left.shape[:2] and (disp > 0).mean() > 0.7


def test_calibrate_then_run_with_that_calibration(tmp_path, ray_cluster, data_dir):
    board = data_dir / "stereo" / "chessboard"
    calib = tmp_path / "calib.yaml"
    res = runner.invoke(app, ["calibrate", "--left", str(board / "left*.jpg"), "--right", str(board / "right*.jpg"),
                              "--board", "9x6", "--square", "0.025", "--out", str(calib)])
    assert res.exit_code == 0, res.output
    assert "reprojection error" in res.output and calib.exists()
    rms = float(res.output.split("stereo rms): ")[1].split(" px")[0])
    assert 0 < rms < 1.0
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", "--left", str(board / "left03.jpg"), "--right", str(board / "right03.jpg"), "--calib", str(calib),
                              "--stages", "depth", "--out", str(out), "--sinks", "jsonl"])
    assert res.exit_code == 0, res.output
    (frame,) = _lines(out / "frames.jsonl")
    assert not frame["errors"] and frame["calib"]["type"] == "StereoCalibration"


@pytest.mark.parametrize("args, message", [
    (["--left", "L.png", "--right", "R.png", "--calib", "missing_calib.yaml"], "missing_calib.yaml"),
    (["--source", "no/such/folder"], "no/such/folder"),
    (["--stages", "telepathy"], "unknown stage 'telepathy'"),
    (["--set", "depth.warp_speed=9"], "warp_speed"),
    (["--left", "L.png"], "--left and --right come together"),
])
def test_bad_arguments_give_clear_errors(tmp_path, ray_cluster, args, message):
    for name in ("L.png", "R.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((32, 32, 3), np.uint8))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = runner.invoke(app, ["run", "--out", str(tmp_path / "out"), *args])
    finally:
        os.chdir(cwd)
    assert res.exit_code != 0
    assert message in " ".join(res.output.split()), res.output


def test_sample_command_writes_a_readable_layout(tmp_path):
    res = runner.invoke(app, ["sample", "--out", str(tmp_path / "s"), "--frames", "2", "--width", "160", "--height", "120"])
    assert res.exit_code == 0, res.output
    for rel in ("left/000000.png", "right/000001.png", "calib.yaml", "rgbd/rgb.txt", "gt/objects.json"):
        assert (tmp_path / "s" / rel).exists(), rel


def test_pipeline_yaml_config(tmp_path, ray_cluster):
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("max_in_flight: 4\nstages:\n  - name: depth\n    replicas: 1\n    num_cpus: 0.5\n    max_batch: 2\n    options: {num_disparities: 32, point_cloud: true, voxel_size_m: 0.05}\n")
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", "--config", str(cfg), "--source", "sample:rgbd", "--out", str(out), "--sinks", "jsonl,ply,tsdf", "--max-frames", "3"])
    assert res.exit_code == 0, res.output
    assert len(_lines(out / "frames.jsonl")) == 3
    import open3d as o3d

    cloud = o3d.io.read_point_cloud(str(sorted((out / "clouds").glob("*.ply"))[0]))
    assert len(cloud.points) > 1000
    mesh = o3d.io.read_triangle_mesh(str(out / "sample-rgbd_mesh.ply"))
    assert len(mesh.triangles) > 1000


@pytest.mark.parametrize("text, message", [("stages: [depth]\nbogus: 1\n", "unknown key(s) bogus"), ("- a\n- b\n", "expected a mapping"), ("stages: [depth\n", "not valid YAML")])
def test_bad_pipeline_yaml_is_named(tmp_path, text, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    res = runner.invoke(app, ["run", "--config", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
