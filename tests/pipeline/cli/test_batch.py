"""``sensorium batch`` refuses what cannot run before it writes a job folder or starts Ray, and a
job folder from a start that failed does not bind the next job."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from typing import Any, ClassVar, Sequence

from typer.testing import CliRunner

from sensorium.pipeline.cli.batch import app
from sensorium.stages.base import Stage, get_stage_class, register_stage

runner = CliRunner()


class _CountStage(Stage):
    """An ordered stage (counts across a source's frames), as a tracker is."""

    name: ClassVar[str] = "h16_count"
    ordered: ClassVar[bool] = True

    def process(self, frames: Sequence[Any]) -> list[Any]:
        return [None for _ in frames]


def _ensure_registered() -> None:
    try:
        get_stage_class(_CountStage.name)
    except ValueError:
        register_stage(_CountStage)


def test_an_ordered_stage_is_one_clear_error_and_leaves_no_job_folder(tmp_path, data_dir):
    _ensure_registered()
    out = tmp_path / "out"
    res = runner.invoke(app, ["batch", "--input", str(data_dir / "photos"), "--stages", "h16_count", "--output", str(out)])
    assert res.exit_code == 2, res.output
    assert "error: stage(s) 'h16_count' keep state across one source's frames" in " ".join(res.output.split())
    assert res.output.count("error") == 1 and "Traceback" not in res.output
    assert not out.exists()


def test_a_missing_input_is_refused_before_a_job_folder_is_written(tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["batch", "--input", str(tmp_path / "no_such_folder"), "--stages", "detect", "--output", str(out)])
    assert res.exit_code == 2 and "--input" in res.output and "no such file or folder" in res.output
    assert not out.exists()


def test_a_job_json_beside_no_results_does_not_block_the_corrected_rerun(tmp_path):
    out, empty = tmp_path / "out", tmp_path / "empty"
    out.mkdir()
    empty.mkdir()
    stale = {"stages": [{"name": "detect", "options": {}, "actors": 1, "batch_size": 16, "num_cpus": None, "num_gpus": None}]}
    (out / "job.json").write_text(json.dumps(stale))  # a start that failed before writing anything
    res = runner.invoke(app, ["batch", "--input", str(empty), "--stages", "face", "--output", str(out), "--set", "face.threads=1"])
    assert res.exit_code == 0, res.output
    assert [s["name"] for s in json.loads((out / "job.json").read_text())["stages"]] == ["face"]
    # a folder holding results still binds its job: another chain of stages is refused
    (out / "failures.jsonl").write_text(json.dumps({"path": "x.jpg", "stage": "source", "reason": "unreadable"}) + "\n")
    res = runner.invoke(app, ["batch", "--input", str(empty), "--stages", "detect", "--output", str(out)])
    assert res.exit_code == 2 and "holds a job with other stages/options" in " ".join(res.output.split())


def test_a_batch_with_the_shipped_detector_says_what_it_knows_before_it_starts(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["batch", "--input", str(empty), "--stages", "detect", "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert text.count("note: detect: the shipped detector 'detr_spp_shapes' is trained on generated shapes only") == 1
    res = runner.invoke(app, ["batch", "--input", str(empty), "--stages", "detect", "--output", str(tmp_path / "out2"),
                              "--set", f"detect.weights={tmp_path / 'mine.pt'}"])
    assert "generated shapes only" not in res.output  # a user's own weights: nothing to say


def test_batch_gui_agent_is_one_line_naming_the_stages_there_are(tmp_path, data_dir):
    out = tmp_path / "out"
    res = runner.invoke(app, ["batch", "--input", str(data_dir / "photos"), "--stages", "gui_agent", "--output", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert " ".join(res.output.split()).startswith("error: unknown stage 'gui_agent'; known: depth, detect, face")
    assert not out.exists()  # nothing to block the corrected rerun


def test_a_cluster_that_is_not_there_is_one_line_naming_it(tmp_path, data_dir):
    """``--ray-address`` where nothing answers: exit 2 at once with the address, not minutes of
    Ray's retries. In a fresh process: this one may already be connected to the tests' Ray."""
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", "from sensorium.deploy.cli import app; app()", "batch", "--input", str(data_dir / "photos"),
                           "--stages", "detect", "--output", str(out), "--ray-address", address], capture_output=True, text=True, timeout=120)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, said[-2000:]
    assert f"error: could not join the Ray cluster at '{address}': nothing answers there" in said
    assert "Traceback" not in said and not list(out.glob("part-*"))
