"""VideoFileSource on written MJPG/mp4v clips and a real video."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sensorium.pipeline.io.sources.base import SourceState
from sensorium.pipeline.io.sources.open import open_source


@pytest.mark.parametrize("fourcc, suffix", [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_written_video_yields_every_frame_in_order(tmp_path, fourcc, suffix, read_all):
    path = tmp_path / f"clip{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (64, 48))
    assert writer.isOpened()
    colours_bgr = [(0, 0, 255), (255, 0, 0)]  # red, blue
    for i in range(10):
        writer.write(np.full((48, 64, 3), colours_bgr[i % 2], np.uint8))
    writer.release()

    frames = read_all(open_source(str(path)))

    assert [f.seq for f in frames] == list(range(10))
    assert [f.meta["frame_index"] for f in frames] == list(range(10))
    for i, f in enumerate(frames):
        r, b = f.image[..., 0].mean(), f.image[..., 2].mean()
        assert (r > 200 and b < 50) if i % 2 == 0 else (b > 200 and r < 50), f"frame {i}: RGB means {f.image.mean(axis=(0, 1))}"
    assert len({f.timestamp for f in frames}) > 1 or len(frames) == 1


def test_real_video_first_frames_then_stop(data_dir):
    source = open_source(str(data_dir / "video/vtest.avi"))
    frames = source.frames()
    first = [next(frames) for _ in range(5)]
    frames.close()

    assert [f.seq for f in first] == list(range(5))
    assert all(f.ok and f.image.shape == (576, 768, 3) and f.image.dtype == np.uint8 for f in first)
    assert [f.meta["frame_index"] for f in first] == list(range(5))
    assert source.state is SourceState.ENDED
    assert source.state_log[-1][2] == "stopped by the consumer"


def test_a_truncated_video_yields_what_it_can_then_ends_in_error(tmp_path, read_all):
    """A file cut short (an interrupted upload) must not pass for a finished one: every readable
    frame comes, then the source ends in ``error`` saying how many of the declared frames it read."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(30):
        writer.write(np.full((48, 64, 3), i * 8, np.uint8))
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.9)])
    whole, source = open_source(str(path)), open_source(str(cut))

    assert len(read_all(whole)) == 30 and whole.state is SourceState.ENDED and whole.error is None
    frames = read_all(source)
    assert 0 < len(frames) < 30 and [f.seq for f in frames] == list(range(len(frames)))
    assert source.state is SourceState.ERROR
    assert f"read {len(frames)} of the 30 frames" in source.error and "cut.avi: truncated" in source.error
