"""A batch job's finished rows as frames, for what reads frames: the run report and the Rerun
sink of ``sensorium batch``.

The driver already receives every row (to write the Parquet parts) as each batch completes,
so it hands them on from there; the workers stay as they are, and one recording and one
report cover the job. The last stage drops the images (they would cross the object store
for nothing), so the image of a row is read again here, from a local path, only when asked:
for every row when the Rerun sink logs images, for a few rows when the report draws its
contact sheet.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

import numpy as np

from sensorium.pipeline.batch.storage import is_remote
from sensorium.stages.frame import Frame
from sensorium.stages.results import result_from_dict

log = logging.getLogger(__name__)

#: the source id of a batch job's frames: its entity path in Rerun, its row in the report
SOURCE_ID = "batch"


class RowFrames:
    """Parquet rows and failure lines → :class:`Frame`, numbered 0, 1, ... in the order they
    come (the ``frame`` timeline of the recording). ``with_images``: read each good row's
    image (local paths only; an object's URI gets no image)."""

    def __init__(self, *, with_images: bool = False) -> None:
        self.with_images = with_images
        self.count = 0

    def __call__(self, rows: list[dict[str, Any]], failures: list[dict[str, Any]]) -> list[Frame]:
        frames = []
        for row in rows:
            results = {stage: result_from_dict(d) for stage, d in json.loads(row["results"]).items()}
            meta = {"path": row["path"]}
            image = load_image(meta["path"]) if self.with_images else None
            frames.append(Frame(SOURCE_ID, self._next(), time.time(), image=image, results=results, meta=meta,
                                timings=dict(row.get("timings") or {})))
        for fail in failures:
            frames.append(Frame(SOURCE_ID, self._next(), time.time(), errors={fail["stage"] or "source": fail["reason"]},
                                meta={"path": fail["path"]}))
        return frames

    def _next(self) -> int:
        self.count += 1
        return self.count - 1


def load_image(path: str) -> np.ndarray | None:
    """(H, W, 3) uint8 RGB of a local image, None for an object URI or an unreadable file."""
    from sensorium.pipeline.io.images import read_image

    if is_remote(path):
        return None
    try:
        return read_image(path)
    except (OSError, ValueError) as exc:
        log.debug("no image for %s: %s", path, exc)
        return None


def frame_image(frame: Frame) -> np.ndarray | None:
    """The image of a batch frame that carries none (the report's ``image_loader``)."""
    path = frame.meta.get("path")
    return load_image(str(path)) if path else None


class Feed:
    """``run_batch``'s ``on_rows``: each batch's rows as frames into every sink, in order.

    sinks: those built already (the report's recorder); build: a function making the others,
    called at the first batch, so a sink that writes into the output folder (the Rerun sink's
    ``run.rrd``) does so only once ``run_batch`` holds the folder's lock: a job refused there
    overwrites nothing.
    """

    def __init__(self, to_frames: RowFrames, sinks: list[Any], build: Callable[[], list[Any]] | None = None) -> None:
        self.to_frames = to_frames
        self.sinks = list(sinks)
        self._build = build

    def __call__(self, rows: list[dict[str, Any]], failures: list[dict[str, Any]]) -> None:
        if self._build is not None:
            self.sinks += self._build()
            self._build = None
        for frame in self.to_frames(rows, failures):
            for sink in self.sinks:
                sink.write(frame)

    def close(self) -> dict[str, Any]:
        """Close every sink; their summaries by class name."""
        return {type(s).__name__: s.close() for s in self.sinks}
