"""A bad config value stops ``sensorium run``/``batch`` before anything runs: exit code 2 and
one line naming the option, the value and the expected type, whether the value came from
``--set`` or from a pipeline YAML file. Each case is a fresh ``sensorium`` process; it must
fail before a source is opened or Ray is imported, so each one is fast."""

from __future__ import annotations

import subprocess
import sys

import pytest

# the console script, reporting on the way out whether Ray was ever imported
CLI = ("import sys\nfrom sensorium.deploy.cli import app\ntry:\n    app()\n"
       "finally:\n    sys.stderr.write('\\nray imported: %s\\n' % ('ray' in sys.modules))\n")

# kind → (--set STAGE.OPTION=VALUE, YAML stage with options, the message)
CASES = {
    "bool": ("depth.point_cloud=ture", "depth", "point_cloud: ture",
             "depth.point_cloud: expected true or false, got 'ture'"),
    "int": ("depth.num_disparities=12.5", "depth", "num_disparities: 12.5",
            "depth.num_disparities: expected an integer, got {v}"),
    "float": ("depth.max_depth_m=0.4x", "depth", "max_depth_m: 0.4x",
              "depth.max_depth_m: expected a number, got '0.4x'"),
    "enum": ("detect.precision=fp16", "detect", "precision: fp16",
             "detect.precision: expected fp32 or int8, got 'fp16'"),
    "tuple": ("detect.providers=cuda,gpu", "detect", "providers: [cuda, gpu]",
              "detect.providers: expected a comma-separated list, each one of tensorrt, cuda, cpu,"),
    "unknown key": ("depth.warp_speed=9", "depth", "warp_speed: 9",
                    "depth: unknown option(s) warp_speed; known: baseline_m, block_size,"),
}


def _sensorium(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _assert_refused(proc: subprocess.CompletedProcess, message: str, out) -> None:
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"error: {message}" in err, err[-2000:]
    assert "ray imported: False" in err  # refused before the engine (and Ray) was even imported
    assert not out.exists()  # no sink opened its files, no summary.json


@pytest.mark.parametrize("kind", list(CASES))
def test_a_bad_set_value_is_refused_before_anything_runs(tmp_path, kind):
    setting, stage, _yaml, message = CASES[kind]
    out = tmp_path / "out"
    proc = _sensorium("run", "--stages", stage, "--set", setting, "--out", str(out), cwd=tmp_path)
    _assert_refused(proc, message.format(v="'12.5'"), out)


@pytest.mark.parametrize("kind", list(CASES))
def test_a_bad_yaml_value_is_refused_before_anything_runs(tmp_path, kind):
    _setting, stage, yaml_options, message = CASES[kind]
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"stages:\n  - name: {stage}\n    options:\n      {yaml_options}\n")
    out = tmp_path / "out"
    proc = _sensorium("run", "--config", str(config), "--out", str(out), cwd=tmp_path)
    _assert_refused(proc, message.format(v="12.5"), out)  # YAML reads 12.5 as a number


@pytest.mark.parametrize("yaml_text, message", [
    ("stages:\n  - name: depth\n    replicas: two\n", "stages.depth.replicas: expected an integer, got 'two'"),
    ("stages:\n  - name: depth\n    num_cpus: lots\n", "stages.depth.num_cpus: expected a number or none, got 'lots'"),
    ("stages: [depth]\ndrop_policy: newest\n", "drop_policy: expected one of block, drop_oldest, latest_only or none, got 'newest'"),
    ("stages: [depth]\nmax_in_flight: 2.5\n", "max_in_flight: expected an integer, got 2.5"),
    ("stages:\n  - name: depth\n    options: fast\n", "stages.depth.options: expected a mapping"),
])
def test_bad_pipeline_and_stage_spec_keys_are_named(tmp_path, yaml_text, message):
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml_text)
    out = tmp_path / "out"
    proc = _sensorium("run", "--config", str(config), "--out", str(out), "--max-in-flight", "2" if "max_in_flight" not in yaml_text else "16",
                      cwd=tmp_path)
    _assert_refused(proc, message, out)


def test_a_bad_nested_option_names_its_whole_path(tmp_path):
    out = tmp_path / "out"
    proc = _sensorium("run", "--stages", "face", "--set", "face.quality.min_size=big", "--out", str(out), cwd=tmp_path)
    _assert_refused(proc, "face.quality.min_size: expected a number, got 'big'", out)


def test_batch_refuses_a_bad_set_value_before_ray_starts(tmp_path):
    (tmp_path / "images").mkdir()
    out = tmp_path / "out"
    proc = _sensorium("batch", "--input", str(tmp_path / "images"), "--stages", "depth", "--output", str(out),
                      "--set", "depth.point_cloud=ture", cwd=tmp_path)
    _assert_refused(proc, "depth.point_cloud: expected true or false, got 'ture'", out)


@pytest.mark.parametrize("command, stages, sets, message", [
    ("run", "gaze", (), "stage 'gaze' needs the 'face' stage before it, which is not in the list (e.g. --stages face,gaze)"),
    ("run", "gaze,face", (), "stage 'gaze' needs the 'face' stage before it (e.g. --stages face,gaze)"),
    ("run", "pose", ("pose.persons=detect",), "stage 'pose' needs the 'detect' stage before it, which is not in the list"),
    ("batch", "gaze", (), "stage 'gaze' needs the 'face' stage before it, which is not in the list"),
])
def test_a_stage_without_the_stage_it_needs_is_refused_before_anything_runs(tmp_path, command, stages, sets, message):
    """A configuration error naming the missing stage, at the edge, not one error per frame."""
    out = tmp_path / "out"
    extra = [a for s in sets for a in ("--set", s)]
    if command == "run":
        args = ("run", "--stages", stages, *extra, "--out", str(out))
    else:
        (tmp_path / "images").mkdir()
        args = ("batch", "--input", str(tmp_path / "images"), "--stages", stages, *extra, "--output", str(out))
    _assert_refused(_sensorium(*args, cwd=tmp_path), message, out)
