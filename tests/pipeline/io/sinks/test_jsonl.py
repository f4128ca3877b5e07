"""The JSONL sink on real frames, read back as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sensorium.pipeline.io.sinks import JsonlSink, build_sinks, frame_stem
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth
from tests.pipeline.io.sinks.conftest import SRC, make_frames


def test_jsonl_has_every_frame_and_round_trips(written):
    out, frames, summaries = written
    lines = [json.loads(ln) for ln in (out / "frames.jsonl").read_text().splitlines()]
    assert len(lines) == len(frames) and summaries["jsonl"]["written"] == len(frames)
    for line, frame in zip(lines, frames):
        back = Frame.from_dict(line)
        assert (back.source_id, back.seq, back.errors, back.timestamp) == (frame.source_id, frame.seq, frame.errors, frame.timestamp)
        assert (back.pose is None) == (frame.pose is None)
        if frame.pose is not None:
            np.testing.assert_array_equal(back.pose, frame.pose)
        # depth is summarised, not embedded; everything else is the container itself
        depth = {n: r for n, r in frame.results.items() if isinstance(r, Depth)}
        assert set(back.results) == set(frame.results) - set(depth)
        for name in back.results:
            assert back.results[name] == frame.results[name]
        if depth:
            ((stage, result),) = depth.items()
            summary = line["depth"][stage]
            npz = summary.pop("npz")
            assert summary == result.summary()
            assert npz == f"arrays/{frame_stem(frame)}.npz" and (out / npz).is_file()
        else:
            assert "depth" not in line
    assert lines[3]["errors"] == {"depth": f"{SRC}#3: depth: sensor dropped out"}
    assert len((out / "frames.jsonl").read_text()) < 200_000  # no full depth maps in the log


def test_jsonl_names_npz_only_when_the_npz_sink_runs(data_dir: Path, tmp_path: Path):
    frame = make_frames(data_dir / "rgbd" / "redwood")[0]
    for names, npz in (("jsonl", None), ("jsonl,npz", f"arrays/{frame_stem(frame)}.npz")):
        out = tmp_path / names.replace(",", "_")
        (sink,) = [s for s in build_sinks(names, out) if isinstance(s, JsonlSink)]
        sink.write(frame)
        sink.close()
        assert json.loads((out / "frames.jsonl").read_text())["depth"]["depth"]["npz"] == npz
