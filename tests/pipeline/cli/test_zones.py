"""``run --zone/--line``: parsed and checked at the edge (named errors before Ray starts), and a
run whose zones stage counts tracks that cross a line: exact counts in summary.json and JSONL.

The tracks come from a small real stage registered here (boxes walking across the image), so
the counting path through the engine, the sinks and the summary is tested whatever tracker runs.
"""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from sensorium.pipeline.cli.run import app
from sensorium.pipeline.cli.zones import with_zones, zone_options
from sensorium.pipeline.stream.config import PipelineConfig, StageSpec
from sensorium.stages.base import Stage, register_stage
from sensorium.stages.config import ConfigError
from sensorium.stages.results import Tracks
from tests.pipeline.conftest import disc_clip

runner = CliRunner()


class Walkers(Stage):
    """Track 1 walks right 10 px a frame from x=5, track 2 walks left from x=195 (200 x 100 frames)."""

    name = "walkers"

    def process(self, frames):
        out = []
        for f in frames:
            x = np.array([5 + 10 * f.seq, 195 - 10 * f.seq], np.float32)
            boxes = np.stack([x - 4, np.full(2, 40), x + 4, np.full(2, 60)], axis=1).astype(np.float32)
            out.append(Tracks(track_id=np.array([1, 2]), boxes=boxes, scores=np.ones(2, np.float32), class_id=np.zeros(2, np.int64),
                              state=np.zeros(2, np.int64), item=np.arange(2), age=np.full(2, f.seq), of="detect"))
        return out


register_stage(Walkers)


@pytest.mark.parametrize("zones, lines, message", [
    (["door=0,0,10,0,10,10"], [], None),
    (["cam:door=0,0,0.5,0,0.5,1"], ["cam:gate=0.5,0,0.5,1"], None),
    (["door=0,0,10,0"], [], "--zone 'door=0,0,10,0': a polygon needs at least 3 x,y pairs, got 4 number(s)"),
    (["door=0,0,10,0,10"], [], "needs at least 3 x,y pairs, got 5"),
    (["door=0,0,10,10,10,0,0,10"], [], "intersects itself"),
    (["cam9:door=0,0,10,0,10,10"], [], "--zone 'cam9:door=0,0,10,0,10,10': source 'cam9' is not in this run (sources: cam)"),
    (["door"], [], "--zone: expected SOURCE:NAME=x1,y1,..., got 'door'"),
    (["cam:=0,0,1,0,1,1"], [], "needs a name"),
    (["door=a,b,c,d,e,f"], [], "expected comma-separated numbers"),
    ([], ["gate=0,0,10"], "--line 'gate=0,0,10': expected x1,y1,x2,y2 (4 numbers), got 3"),
    ([], ["gate=5,5,5,5"], "start and end are the same point"),
    (["x=0,0,10,0,10,10"], ["x=0,0,10,10"], "name(s) x used twice"),
])
def test_zone_and_line_options_are_checked_at_the_edge(zones, lines, message):
    cfg = PipelineConfig(stages=(StageSpec("walkers"), StageSpec("zones", {"tracks": "walkers"})))
    if message is None:
        out = with_zones(cfg, zones, lines, ["cam"])
        assert out.stages[-1].config.sources() == {"cam"}
    else:
        with pytest.raises(ConfigError) as err:
            with_zones(cfg, zones, lines, ["cam"])
        assert message in str(err.value)


def test_the_source_must_be_named_when_the_run_has_several():
    with pytest.raises(ConfigError, match="name the source .* this run has 2: a, b"):
        zone_options(["door=0,0,10,0,10,10"], [], ["a", "b"])
    assert zone_options([], ["rtsp://cam:554/x:gate=0,0,1,1"], ["rtsp://cam:554/x"])["lines"] == {
        "rtsp://cam:554/x": [{"name": "gate", "start": [0.0, 0.0], "end": [1.0, 1.0]}]}


def test_zones_are_added_after_the_tracker_and_yaml_zones_kept():
    yaml_zones = {"tracks": "walkers", "zones": {"cam": [{"name": "a", "polygon": [[0, 0], [5, 0], [5, 5]]}]}}
    cfg = PipelineConfig(stages=(StageSpec("walkers"), StageSpec("zones", yaml_zones)))
    out = with_zones(cfg, ["b=0,0,9,0,9,9"], [], ["cam"])
    assert [z.name for z in out.stages[-1].config.zones["cam"]] == ["a", "b"]
    bare = PipelineConfig(stages=(StageSpec("walkers"),))
    with pytest.raises(ConfigError, match="stage 'zones' needs the 'track' stage before it"):
        with_zones(bare, ["b=0,0,9,0,9,9"], [], ["cam"])  # zones is appended; without a tracker the chain says what is missing
    stray = PipelineConfig(stages=(StageSpec("walkers"), StageSpec("zones", {**yaml_zones, "zones": {"cam7": yaml_zones["zones"]["cam"]}})))
    with pytest.raises(ConfigError, match="source\\(s\\) 'cam7' not in this run"):
        with_zones(stray, [], [], ["cam"])  # a YAML's zones are checked too


def test_run_counts_crossings_into_summary_and_jsonl(tmp_path, ray_cluster):
    ray_cluster.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(16):
        cv2.imwrite(str(folder / f"f_{i:03d}.png"), np.full((100, 200, 3), 60, np.uint8))
    config = tmp_path / "pipeline.yaml"
    config.write_text("stages:\n  - {name: walkers, num_cpus: 0.5, max_batch: 4}\n  - {name: zones, options: {tracks: walkers}}\n")
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", "--source", str(folder), "--config", str(config), "--out", str(out), "--sinks", "jsonl",
                              "--line", "gate=100,0,100,100", "--zone", "right=0.5,0,1,0,1,1,0.5,1"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    (sid,) = summary["zones"]
    # track 1 crosses x=100 rightwards (in) at seq 10 and enters the right half; track 2, first seen
    # inside it, crosses leftwards (out) and leaves it
    assert summary["zones"][sid] == {"zones": {"right": {"inside": 1, "entered": 1, "left": 1}}, "lines": {"gate": {"in": 1, "out": 1}}}
    frames = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    lines = [f["results"]["zones"]["lines"][0] for f in frames]
    assert [f["seq"] for f in frames if lines[f["seq"]]["crossed_in"]] == [10]
    assert [f["seq"] for f in frames if lines[f["seq"]]["crossed_out"]] == [10]
    assert lines[-1]["in_count"] == 1 and lines[-1]["out_count"] == 1
    assert "zones and lines" in res.output and "line gate" in res.output


@pytest.mark.slow
def test_detect_track_zones_on_a_generated_clip_counts_exactly(tmp_path, ray_cluster):
    """`sensorium run` end to end: the shipped detector (one detection a frame: it has no NMS and
    this scene has one object), the tracker and the zones stage on a video whose disc crosses
    the line x=128 rightwards then back, and enters then leaves the right half."""
    clip = tmp_path / "disc.avi"
    disc_clip(clip)
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", "--source", str(clip), "--stages", "detect,track", "--set", "detect.max_detections=1",
                              "--line", "gate=128,0,128,256", "--zone", "right=0.5,0,1,0,1,1,0.5,1", "--sinks", "jsonl", "--out", str(out)])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    (sid,) = summary["zones"]
    assert summary["zones"][sid] == {"zones": {"right": {"inside": 0, "entered": 1, "left": 1}}, "lines": {"gate": {"in": 1, "out": 1}}}
    frames = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    assert [f["seq"] for f in frames] == list(range(40)) and all(not f["errors"] for f in frames)
    gate = {f["seq"]: f["results"]["zones"]["lines"][0] for f in frames}
    crossed_in = [(s, g["crossed_in"]) for s, g in gate.items() if g["crossed_in"]]
    crossed_out = [(s, g["crossed_out"]) for s, g in gate.items() if g["crossed_out"]]
    # the disc's box is wholly right of x=128 once x > 152 (seq 12 going right), wholly left once x < 104 (seq 32 coming
    # back); the detector's boxes are off by up to ~8 px, hence the ranges
    assert len(crossed_in) == 1 and 11 <= crossed_in[0][0] <= 14, crossed_in
    assert len(crossed_out) == 1 and 31 <= crossed_out[0][0] <= 35, crossed_out
    assert crossed_in[0][1] == crossed_out[0][1]  # the same track both ways


def test_the_yaml_in_docs_builds():
    import re
    from pathlib import Path

    import yaml

    doc = (Path(__file__).resolve().parents[3] / "docs" / "zones.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    cfg = with_zones(PipelineConfig.from_dict(yaml.safe_load(block)), [], [], ["cam0"])
    zones = cfg.stages[-1].config
    assert [z.name for z in zones.zones["cam0"]] == ["shop"] and zones.min_frames == 2
