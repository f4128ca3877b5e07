"""A batch job's rows as frames: ``sensorium batch`` on real photos (and a broken file) writes
its report and, with --rerun, a recording with one frame per image."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter

import pytest
from rerun.chunk import RrdReader
from typer.testing import CliRunner

from sensorium.pipeline.batch.frames import SOURCE_ID, Feed, RowFrames
from sensorium.pipeline.batch.job import iter_rows
from sensorium.pipeline.cli.batch import app
from sensorium.pipeline.report import RunRecorder
from sensorium.stages.results import Detections

runner = CliRunner()


@pytest.mark.slow
def test_batch_job_writes_report_and_recording(tmp_path, data_dir, ray_cluster):
    photos = tmp_path / "in"
    photos.mkdir()
    for name in ("bus.jpg", "zidane.jpg"):
        shutil.copyfile(data_dir / "photos" / name, photos / name)
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    res = runner.invoke(app, ["batch", "--input", str(photos), "--stages", "detect", "--output", str(out), "--rerun", "--batch-size", "4"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["failed"] == 1

    chunks = list(RrdReader(out / "run.rrd").store().stream())
    rows = Counter()
    frames = set()
    for chunk in chunks:
        rows[chunk.entity_path] += chunk.num_rows
        if chunk.entity_path == f"/{SOURCE_ID}/camera/image":
            frames.update(chunk.to_record_batch().column("frame").to_pylist())
    assert rows[f"/{SOURCE_ID}/camera/image"] == 2 and rows[f"/{SOURCE_ID}/camera/detections"] == 2  # the broken file has no image
    assert len(frames) == 2 and frames <= {0, 1, 2}  # the item index is the frame timeline

    page = (out / "report.html").read_text()
    assert "<td>images</td><td>3</td>" in page and "<td>failed</td><td>1</td>" in page
    # with each row's seconds per stage, both good images are among the slowest kept: one sheet entry each
    assert sorted(re.findall(r'data-why="([^"]*)"', page)) == ["error", "first, slowest", "slowest"]
    assert 'data-plot="throughput"' in page and 'data-plot="scores"' in page and "<script" not in page
    assert 'data-plot="latency"' in page and "No per-stage timings" not in page  # each row's seconds per stage
    assert all(set(row) == {"path", "width", "height", "results", "embedding"} for row in iter_rows(out))  # not stored


def test_rows_and_failures_become_numbered_frames(data_dir):
    det = Detections(boxes=[[1, 2, 30, 40]], scores=[0.8], class_id=[0], class_names=("bus",))
    rows = [{"path": str(data_dir / "photos/bus.jpg"), "width": 810, "height": 1080, "results": json.dumps({"detect": det.to_dict()}),
             "timings": {"detect": 0.25}}]
    fails = [{"path": "/nowhere/x.jpg", "stage": "source", "reason": "no such file"}]
    recorder = RunRecorder()
    feed = Feed(RowFrames(with_images=True), [recorder])
    feed(rows, fails)
    feed(rows[:1], [])
    assert feed.close() == {"RunRecorder": {"sink": "report", "frames": 3, "collect_ms_per_frame": pytest.approx(0, abs=50)}}
    first = recorder.first[SOURCE_ID]
    assert first.seq == 0 and first.image.shape == (1080, 810, 3) and first.results["detect"] == det
    assert first.timings == {"detect": 0.25} and list(recorder.latency["detect"]) == [250.0, 250.0]
    assert [(f.seq, f.errors) for f in recorder.failed] == [(1, {"source": "no such file"})]
