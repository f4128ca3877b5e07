"""Every frame of a video file, in order."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import cv2

from sensorium.pipeline.io.sources.base import Source, SourceItem, existing_path

log = logging.getLogger(__name__)


class VideoFileSource(Source):
    """Every frame of a video file, in order; never drops. ``meta``: path, frame index, media time.

    A file that ends before the frame count its container declares ends the source in state
    ``error`` (``error`` says how many frames were read), after yielding every readable frame.
    """

    def __init__(self, path: str | Path, *, source_id: str | None = None) -> None:
        self.path = existing_path(path)
        super().__init__(source_id or str(self.path))
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise ValueError(f"{self.path}: OpenCV cannot open this file as a video")
            self.fps = float(cap.get(cv2.CAP_PROP_FPS))
            self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))  # container's estimate, may be 0
        finally:
            cap.release()

    def _read(self) -> Iterator[SourceItem]:
        cap = cv2.VideoCapture(str(self.path))
        index = 0
        try:
            while not self._closed.is_set():
                ok, bgr = cap.read()
                if not ok:
                    break
                meta = {"path": str(self.path), "frame_index": index, "pos_msec": float(cap.get(cv2.CAP_PROP_POS_MSEC))}
                index += 1
                yield SourceItem(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), meta=meta)
        finally:
            cap.release()
        if not self._closed.is_set() and self.frame_count > 0 and index < self.frame_count:
            # the file ends before the frames its container declares: a truncated or corrupt
            # upload must not pass for a finished run, so the source ends in ``error``
            self._fail(f"{self.path}: truncated or corrupt: read {index} of the {self.frame_count} frames it declares")
