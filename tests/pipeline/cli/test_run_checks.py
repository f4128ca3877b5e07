"""``sensorium run`` says what cannot work before Ray starts (a stage the sources cannot feed),
names its sources readably, and writes point clouds only when a stage makes them."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from sensorium.pipeline.cli.run import _fed_stages, _pipeline_config, _sink_names, app
from sensorium.pipeline.io.sources import open_source

runner = CliRunner()
# the console script, reporting on the way out whether Ray was ever imported
CLI = ("import sys\nfrom sensorium.deploy.cli import app\ntry:\n    app()\n"
       "finally:\n    sys.stderr.write('\\nray imported: %s\\n' % ('ray' in sys.modules))\n")


def _config(stages: str | None, *sets: str):
    return _pipeline_config(None, stages, list(sets), ray_address=None, metrics_port=None, max_in_flight=4, drop_policy=None)


def test_depth_on_a_mono_video_says_so_before_ray_and_how_to_give_depth_input(tmp_path, data_dir):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", CLI, "run", "--source", str(data_dir / "video" / "vtest.avi"), "--stages", "depth",
                           "--out", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert ("error: stage 'depth' needs a stereo pair or an RGB-D source, and source 'vtest' gives single images. "
            "Give a stereo pair: --left L --right R [--calib FILE]") in err
    assert "an RGB-D source: --source rgbd:FOLDER" in err
    assert "ray imported: False" in err and not out.exists()


def test_every_available_stage_leaves_out_those_the_sources_cannot_feed(data_dir):
    cfg = _config("detect,depth")
    video = open_source(str(data_dir / "video" / "vtest.avi"), source_id="vtest")
    assert [s.name for s in _fed_stages(cfg, [video]).stages] == ["detect"]
    assert [s.name for s in _fed_stages(cfg, [open_source("sample"), open_source("sample:rgbd")]).stages] == ["detect", "depth"]


def test_ply_is_a_default_sink_only_when_a_stage_makes_point_clouds():
    assert _sink_names(None, _config("depth")) == ["jsonl", "npz", "video"]
    assert _sink_names(None, _config("detect")) == ["jsonl", "npz", "video"]
    assert _sink_names(None, _config("depth", "depth.point_cloud=true")) == ["jsonl", "npz", "video", "ply"]
    assert _sink_names("jsonl, ply", _config("detect")) == ["jsonl", "ply"]  # what the user asks for, they get


def test_sources_are_named_by_what_they_are_in_the_summary_and_the_jsonl(tmp_path, ray_cluster, data_dir):
    out = tmp_path / "out"
    video = str(data_dir / "video" / "vtest.avi")
    res = runner.invoke(app, ["run", "--source", video, "--source", f"lobby={video}", "--source", str(data_dir / "photos"),
                              "--stages", "detect", "--max-frames", "4", "--out", str(out), "--sinks", "jsonl"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["source_states"]) == {"vtest", "lobby", "photos"}
    lines = [json.loads(ln) for ln in (out / "frames.jsonl").read_text().splitlines()]
    assert {ln["source_id"] for ln in lines} <= {"vtest", "lobby", "photos"} and len(lines) == 4
    assert not (out / "clouds").exists()


def test_a_stereo_pair_and_a_side_by_side_source_are_named_readably_and_uniquely(data_dir):
    from sensorium.pipeline.cli.run import _open_sources

    board, video = data_dir / "stereo" / "chessboard", str(data_dir / "video" / "vtest.avi")
    srcs = _open_sources([video], str(board / "left01.jpg"), str(board / "right01.jpg"), video, None)
    assert [s.source_id for s in srcs] == ["left01+right01", "vtest", "vtest-2"]
    assert [sorted(s.extras) for s in srcs] == [["right"], ["right"], []]  # the pair and the halves feed depth


def test_set_options_count_when_the_chain_is_checked(tmp_path):
    """``--set track.of=pose`` makes pose the tracked stage before the chain is checked, from
    ``--stages`` and from a YAML file alike; without it, track still needs detect."""
    import pytest

    from sensorium.stages.config import ConfigError

    assert _config("pose,track", "track.of=pose").stages[1].config.of == "pose"
    with pytest.raises(ConfigError, match="detect"):
        _config("pose,track")
    yaml = tmp_path / "p.yaml"
    yaml.write_text("stages:\n  - name: pose\n  - name: track\n    options: {of: pose}\n")
    cfg = _pipeline_config(yaml, None, ["track.of=pose", "track.min_hits=2"], ray_address=None, metrics_port=None, max_in_flight=4, drop_policy=None)
    assert (cfg.stages[1].config.of, cfg.stages[1].config.min_hits) == ("pose", 2)


def test_every_available_stage_puts_the_ordered_ones_last(monkeypatch):
    """A plugin stage registered after ``track`` still runs before it when ``--stages`` is left out
    (the engine runs ordered stages last); without the sort, run refused its own default chain."""
    from sensorium.pipeline.cli.run import _default_stage_names
    from sensorium.stages import base

    class _Late(base.Stage):
        name = "zz_late_parallel"

        def process(self, frames):
            return [None for _ in frames]

    monkeypatch.setitem(base._registered, _Late.name, _Late)
    names = _default_stage_names()
    assert names.index("track") > names.index("zz_late_parallel") and "zones" not in names
    assert [base.get_stage_class(n).ordered for n in names] == sorted(base.get_stage_class(n).ordered for n in names)
