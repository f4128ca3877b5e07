"""A bad config value stops ``sensorium run``/``batch`` before anything runs: exit code 2 and
one line naming the option, the value and the expected type, whether the value came from
``--set`` or from a pipeline YAML file. It must fail before a source is opened or Ray is
imported: every case runs, one after the other, in one fresh ``sensorium`` process that says
after each whether Ray was ever imported (a fresh process per case cost a CLI start-up each,
23 of them; a case that imported Ray still shows, as the first one whose answer says so)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# the CLI as the console script runs it (app() with its own argv and exit), once per case; after
# each: its exit code, its stderr and whether Ray has been imported so far
DRIVER = """
import contextlib, io, json, os, sys
from sensorium.deploy.cli import app
answers = {}
for key, (cwd, args) in json.loads(open(sys.argv[1]).read()).items():
    os.chdir(cwd)
    err = io.StringIO()
    code = None
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            app(args, prog_name="sensorium")
        except SystemExit as exc:
            code = exc.code
    answers[key] = {"code": code, "stderr": err.getvalue(), "ray_imported": "ray" in sys.modules}
open(sys.argv[2], "w").write(json.dumps(answers))
"""

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


#: stage-spec and pipeline keys in a YAML file → the message
SPEC_KEYS = [
    ("stages:\n  - name: depth\n    replicas: two\n", "stages.depth.replicas: expected an integer, got 'two'"),
    ("stages:\n  - name: depth\n    num_cpus: lots\n", "stages.depth.num_cpus: expected a number or none, got 'lots'"),
    ("stages: [depth]\ndrop_policy: newest\n", "drop_policy: expected one of block, drop_oldest, latest_only or none, got 'newest'"),
    ("stages: [depth]\nmax_in_flight: 2.5\n", "max_in_flight: expected an integer, got 2.5"),
    ("stages:\n  - name: depth\n    options: fast\n", "stages.depth.options: expected a mapping"),
]

#: (command, stages, --set values) whose stage misses the stage it needs → the message
MISSING = [
    ("run", "gaze", (), "stage 'gaze' needs the 'face' stage before it, which is not in the list (e.g. --stages face,gaze)"),
    ("run", "gaze,face", (), "stage 'gaze' needs the 'face' stage before it (e.g. --stages face,gaze)"),
    ("run", "pose", ("pose.persons=detect",), "stage 'pose' needs the 'detect' stage before it, which is not in the list"),
    ("batch", "gaze", (), "stage 'gaze' needs the 'face' stage before it, which is not in the list"),
]


def _args(key: str, folder: Path) -> list[str]:
    """The command line of case ``key``, its input files written into ``folder`` (its output: ``folder/out``)."""
    out = str(folder / "out")
    kind, _, index = key.partition(":")
    if kind == "set":
        setting, stage, _yaml, _message = CASES[index]
        return ["run", "--stages", stage, "--set", setting, "--out", out]
    if kind == "yaml":
        _setting, stage, yaml_options, _message = CASES[index]
        (folder / "pipeline.yaml").write_text(f"stages:\n  - name: {stage}\n    options:\n      {yaml_options}\n")
        return ["run", "--config", str(folder / "pipeline.yaml"), "--out", out]
    if kind == "spec":
        yaml_text = SPEC_KEYS[int(index)][0]
        (folder / "pipeline.yaml").write_text(yaml_text)
        return ["run", "--config", str(folder / "pipeline.yaml"), "--out", out, "--max-in-flight", "2" if "max_in_flight" not in yaml_text else "16"]
    if kind == "nested":
        return ["run", "--stages", "face", "--set", "face.quality.min_size=big", "--out", out]
    if kind == "batch":
        (folder / "images").mkdir()
        return ["batch", "--input", str(folder / "images"), "--stages", "depth", "--output", out, "--set", "depth.point_cloud=ture"]
    command, stages, sets, _message = MISSING[int(index)]
    extra = [a for s in sets for a in ("--set", s)]
    if command == "run":
        return ["run", "--stages", stages, *extra, "--out", out]
    (folder / "images").mkdir()
    return ["batch", "--input", str(folder / "images"), "--stages", stages, *extra, "--output", out]


KEYS = ([f"set:{k}" for k in CASES] + [f"yaml:{k}" for k in CASES] + [f"spec:{i}" for i in range(len(SPEC_KEYS))]
        + ["nested:", "batch:"] + [f"missing:{i}" for i in range(len(MISSING))])


@pytest.fixture(scope="module")
def refused(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """Every case through one fresh ``sensorium`` process: key → (its answer, its output folder)."""
    root = tmp_path_factory.mktemp("refusals")
    folders = {key: root / f"case{i}" for i, key in enumerate(KEYS)}
    cases = {}
    for key, folder in folders.items():
        folder.mkdir()
        cases[key] = (str(folder), _args(key, folder))
    (root / "cases.json").write_text(json.dumps(cases))
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(root / "cases.json"), str(root / "answers.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = json.loads((root / "answers.json").read_text())
    return {key: (answers[key], folders[key] / "out") for key in KEYS}


def _assert_refused(case: tuple[dict, Path], message: str) -> None:
    answer, out = case
    err = " ".join(answer["stderr"].split())
    assert answer["code"] == 2, answer["stderr"][-2000:]
    assert f"error: {message}" in err, err[-2000:]
    assert not answer["ray_imported"]  # refused before the engine (and Ray) was even imported
    assert not out.exists()  # no sink opened its files, no summary.json


@pytest.mark.parametrize("kind", list(CASES))
def test_a_bad_set_value_is_refused_before_anything_runs(refused, kind):
    _assert_refused(refused[f"set:{kind}"], CASES[kind][3].format(v="'12.5'"))


@pytest.mark.parametrize("kind", list(CASES))
def test_a_bad_yaml_value_is_refused_before_anything_runs(refused, kind):
    _assert_refused(refused[f"yaml:{kind}"], CASES[kind][3].format(v="12.5"))  # YAML reads 12.5 as a number


@pytest.mark.parametrize("index", range(len(SPEC_KEYS)))
def test_bad_pipeline_and_stage_spec_keys_are_named(refused, index):
    _assert_refused(refused[f"spec:{index}"], SPEC_KEYS[index][1])


def test_a_bad_nested_option_names_its_whole_path(refused):
    _assert_refused(refused["nested:"], "face.quality.min_size: expected a number, got 'big'")


def test_batch_refuses_a_bad_set_value_before_ray_starts(refused):
    _assert_refused(refused["batch:"], "depth.point_cloud: expected true or false, got 'ture'")


@pytest.mark.parametrize("index", range(len(MISSING)))
def test_a_stage_without_the_stage_it_needs_is_refused_before_anything_runs(refused, index):
    """A configuration error naming the missing stage, at the edge, not one error per frame."""
    _assert_refused(refused[f"missing:{index}"], MISSING[index][3])
