"""Sinks by name, with their options."""

from __future__ import annotations

from contextlib import nullcontext as does_not_raise
from pathlib import Path

import pytest

from sensorium.pipeline.io.sinks import build_sinks, split_sink_sets


@pytest.mark.parametrize(
    "names, opts, expectation",
    [
        ("jsonl, npz", {}, does_not_raise()),
        (["video"], {"fps": 30, "voxel_length": 0.02}, does_not_raise()),  # tsdf's option, unused
        ("jsonl,mp3", {}, pytest.raises(ValueError, match="unknown sink.*mp3")),
        ("jsonl,jsonl", {}, pytest.raises(ValueError, match="twice")),
        ("video", {"fsp": 30}, pytest.raises(ValueError, match="unknown sink option.*fsp")),
        ("video", {"fps": 0}, pytest.raises(ValueError, match="fps")),
        ("jsonl,tsdf", {"voxel_length": -1}, pytest.raises(ValueError, match="voxel_length")),
    ],
)
def test_build_sinks(tmp_path: Path, names, opts, expectation):
    with expectation:
        sinks = build_sinks(names, tmp_path, **opts)
        for sink in sinks:
            sink.close()


def test_sink_sets_are_split_from_stage_sets_and_typed():
    rest, per_sink = split_sink_sets(["depth.num_disparities=128", "rerun.serve=true", "rerun.web_port=0", "video.fps=5"])
    assert rest == ["depth.num_disparities=128"]
    assert per_sink == {"rerun": {"serve": True, "web_port": 0}, "video": {"fps": 5}}


@pytest.mark.parametrize(
    "names, sink_options, expectation",
    [
        ("jsonl,rerun", {"rerun": {"jpeg_quality": 50}}, does_not_raise()),
        ("jsonl", {"rerun": {"serve": True}}, pytest.raises(ValueError, match="rerun.serve: the rerun sink is not in this run's sinks")),
        ("rerun", {"rerun": {"fps": 5}}, pytest.raises(ValueError, match="unknown rerun sink option.*fps; known: .*serve")),
        ("rerun", {"rerun": {"jpeg_quality": "high"}}, pytest.raises(ValueError, match="jpeg_quality expects 1-100")),
    ],
)
def test_options_for_one_sink(tmp_path: Path, names, sink_options, expectation):
    with expectation:
        for sink in build_sinks(names, tmp_path, sink_options=sink_options):
            sink.close()


def _drawn(tmp_path: Path, sets: list[str]):
    """The picture the video sink built from ``--set`` entries draws for one frame with a box."""
    import numpy as np

    from sensorium.stages.frame import Frame
    from sensorium.stages.results import Detections

    _, per_sink = split_sink_sets(sets)
    [sink] = build_sinks("video", tmp_path / "_".join(sets or ["default"]), sink_options=per_sink)
    det = Detections(boxes=np.array([[20, 20, 120, 90]], np.float32), scores=np.array([0.9], np.float32),
                     class_id=np.array([0]), class_names=("person",))
    picture = sink._draw(Frame("cam", 0, image=np.full((160, 200, 3), 255, np.uint8), results={"detect": det}))
    sink.close()
    return picture


def test_drawing_options_reach_the_video_sink_through_set(tmp_path: Path):
    default = _drawn(tmp_path, [])
    assert (_drawn(tmp_path, ["video.labels=[class,score]"]) == default).all()  # no track or distance to show here
    assert (_drawn(tmp_path, ["video.labels=[class]"]) != default).any()  # the score is gone from the label
    scaled = _drawn(tmp_path, ["video.text_scale=2"])
    assert (scaled != default).any(axis=-1).sum() > (default != 255).any(axis=-1).sum() * 0.1  # bigger text, other pixels
    with pytest.raises(ValueError, match="text_scale: expected > 0"):
        _drawn(tmp_path, ["video.text_scale=0"])
    with pytest.raises(ValueError, match="unknown video sink option.*colour_by; known: .*color_by"):
        _drawn(tmp_path, ["video.colour_by=track"])
