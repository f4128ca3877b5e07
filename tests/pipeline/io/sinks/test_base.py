"""The sink protocol: failures counted per frame, safe file names."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorium.pipeline.io.sinks import SINKS, NpzSink, Sink, frame_stem, safe_name
from tests.pipeline.io.sinks.conftest import make_frames


def test_a_failing_frame_is_counted_and_the_sink_goes_on(data_dir: Path, tmp_path: Path):
    frames = make_frames(data_dir / "rgbd" / "redwood")[:3]
    sink = NpzSink(tmp_path)
    (tmp_path / "arrays" / f"{frame_stem(frames[1])}.npz").mkdir()  # something in the way of frame 1
    for frame in frames:
        sink.write(frame)
    summary = sink.close()
    assert (summary["written"], summary["failed"]) == (2, 1)
    assert (tmp_path / "arrays" / f"{frame_stem(frames[2])}.npz").is_file()
    assert sink.close() is summary  # idempotent
    with pytest.raises(RuntimeError, match="after close"):
        sink.write(frames[0])


def test_sinks_follow_the_protocol(tmp_path: Path):
    for cls in SINKS.values():
        sink = cls(tmp_path)
        assert isinstance(sink, Sink)
        assert sink.close()["written"] == 0


@pytest.mark.parametrize(
    "source_id, expected",
    [
        ("cam0", "cam0"),
        ("left-cam_2.front", "left-cam_2.front"),
        ("rtsp://10.0.0.1/stream", None),
        ("../../etc/passwd", None),
        ("", None),
        (".hidden", None),
        ("x" * 200, None),
    ],
)
def test_safe_name(source_id, expected):
    name = safe_name(source_id)
    assert name == expected if expected else name != source_id
    assert name and "/" not in name and not name.startswith(".") and len(name) <= 80
    assert all(c.isalnum() or c in "._-" for c in name)


def test_safe_names_never_collide():
    ids = ["cam/0", "cam:0", "cam_0", "cam 0", "cam\\0"]
    assert len({safe_name(i) for i in ids}) == len(ids)
