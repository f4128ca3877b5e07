"""The video sink: one file per source, read back with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sensorium.pipeline.io.sinks import VideoSink, safe_name
from tests.pipeline.io.sinks.conftest import SRC, make_frames


def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    images = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        images.append(image)
    cap.release()
    return images


def test_video_per_source_with_every_frame(written):
    out, frames, summaries = written
    video_a = read_video(out / f"{safe_name(SRC)}.mp4")
    assert len(video_a) == 6  # the frame whose depth failed is shown too, error in red
    assert all(v.shape == (480, 1280, 3) for v in video_a)  # image | depth, first size kept
    video_b = read_video(out / "b.mp4")
    assert len(video_b) == 1 and video_b[0].shape == (480, 640, 3)
    assert summaries["video"]["videos"]["b"]["frames"] == 1 and summaries["video"]["written"] == 7
    # what was encoded is the image beside its depth (lossy codec: compare coarsely)
    first = cv2.cvtColor(video_a[0], cv2.COLOR_BGR2RGB).astype(int)
    assert np.abs(first[:, :640] - frames[0].image).mean() < 8
    assert first[:, 640:][frames[0].results["depth"].depth == 0].mean() < 30  # unknown depth is black


def test_video_resizes_to_the_first_frame(data_dir: Path, tmp_path: Path):
    frames = make_frames(data_dir / "rgbd" / "redwood")
    sink = VideoSink(tmp_path, fps=5)
    sink.write(frames[5])  # 320x240 image + depth → 640x240 video
    sink.write(frames[0])  # 640x480 image + depth, resized
    sink.write(frames[3])  # no depth panel (its depth failed), resized
    assert sink.close()["written"] == 3
    video = read_video(tmp_path / f"{safe_name(SRC)}.mp4")
    assert len(video) == 3 and all(v.shape == (240, 640, 3) for v in video)
