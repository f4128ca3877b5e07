"""The video sink: one file per source, read back with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sensorium.pipeline.io.sinks import VideoSink, safe_name
from sensorium.stages.frame import Frame
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


def test_depth_colours_hold_along_a_video(data_dir: Path, tmp_path: Path):
    """A near object entering the view moves a stateless picture's colours ~4x as much as the
    video's, whose range adapts slowly (measured 18 vs 78 RGB levels on average); ``max_depth``
    pins the far end; ``draw`` configures the drawing."""
    from sensorium.pipeline.draw import DrawConfig

    frames = make_frames(data_dir / "rgbd" / "redwood")
    first = frames[0]
    depth = first.results["depth"]
    closer = depth.depth.copy()
    closer[200:300, 250:400] = np.where(closer[200:300, 250:400] > 0, 0.3, 0)
    near = Frame(SRC, 1, image=first.image, results={"depth": type(depth)(depth=closer, confidence=depth.confidence, K=depth.K)})
    again = Frame(SRC, 2, image=first.image, results={"depth": depth})

    def panels(**kwargs) -> list[np.ndarray]:
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        sink = VideoSink(out, fps=5, **kwargs)
        for frame in (first, near, again):
            sink.write(frame)
        assert sink.close()["written"] == 3
        return [v[:, 640:1000].astype(int) for v in read_video(out / f"{safe_name(SRC)}.mp4")]

    steady = panels()
    jumpy = panels(draw=DrawConfig(depth_adaptation=1.0))
    codec = np.abs(jumpy[2] - jumpy[0]).mean()  # the same picture encoded twice
    assert np.abs(jumpy[1] - jumpy[0]).mean() > 3 * np.abs(steady[1] - steady[0]).mean()
    pinned = panels(max_depth=30.0)
    assert np.abs(pinned[0] - steady[0]).mean() > 3 * codec
