"""Annotated video per source (the drawing is :mod:`sensorium.pipeline.draw`)."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from pathlib import Path
from typing import Any

import cv2

from sensorium.pipeline.draw import DrawConfig
from sensorium.pipeline.io.sinks.annotate import frame_annotator, primary_depth
from sensorium.pipeline.io.sinks.base import BaseSink, safe_name
from sensorium.stages.frame import Frame


class VideoSink(BaseSink):
    """``out_dir/<src>.mp4`` per source (mp4v), of each frame drawn by one FrameAnnotator.

    Every frame with an image (or a depth map) is written, errors drawn in red on it. A
    source's video takes the size of its first annotated frame; later frames of another size
    (the depth panel appearing, a resolution change) are resized to it. Depth colours keep
    their meaning along a source's video: its range starts at the first depth map's and
    adapts slowly (``draw`` sets how; ``max_depth`` pins the far end of the colour map, metres).
    """

    name = "video"
    #: ``--set video.color_by=track``, ``video.labels=[class,track]``, ... build the ``draw`` config
    option_groups = {"draw": DrawConfig}

    def __init__(self, out_dir: str | os.PathLike[str], fps: float = 10.0, *, max_depth: float | None = None,
                 draw: DrawConfig | None = None) -> None:
        super().__init__(out_dir)
        if not fps > 0:
            raise ValueError(f"VideoSink: expected fps > 0, got {fps}")
        self.fps = float(fps)
        config = draw or DrawConfig()
        if max_depth is not None:
            config = dataclasses.replace(config, max_depth_m=max_depth)
        self._draw = frame_annotator(config)
        self._writers: dict[str, Any] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self._counts: Counter[str] = Counter()
        self._paths: dict[str, Path] = {}

    def _write(self, frame: Frame) -> str | None:
        if frame.image is None and primary_depth(frame) is None:
            return "no image"
        picture = self._draw(frame)
        src = frame.source_id
        if src not in self._writers:
            h, w = picture.shape[:2]
            path = self.out_dir / f"{safe_name(src)}.mp4"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not writer.isOpened():
                raise RuntimeError(f"cv2.VideoWriter could not open {path} (mp4v, {w}x{h})")
            self._writers[src], self._sizes[src], self._paths[src] = writer, (w, h), path
        w, h = self._sizes[src]
        if picture.shape[:2] != (h, w):
            picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA)
        self._writers[src].write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        self._counts[src] += 1
        return None

    def _close(self) -> dict[str, Any]:
        for writer in self._writers.values():
            writer.release()
        return {"videos": {src: {"path": str(self._paths[src]), "frames": self._counts[src]} for src in self._writers}}
