"""A Rerun recording of the run (``rerun-sdk``, imported when the sink is built): images,
depth, cameras, point clouds, boxes, tracks, keypoints, gaze and stage latency on one
``frame`` timeline per source. The entity layout is :mod:`sensorium.pipeline.io.sinks.rerun.entities`."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from sensorium.pipeline.io.sinks.base import BaseSink
from sensorium.stages.frame import Frame


class RerunSink(BaseSink):
    """``out_dir/run.rrd``: every frame logged with :func:`~sensorium.pipeline.io.sinks.rerun.entities.log_frame`.

    serve: also stream the recording to Rerun's web viewer, started on 127.0.0.1 (``web_port``
    for the page, ``grpc_port`` for the data; 0 picks a free one) and stopped at ``close``;
    open ``viewer_url`` (logged, and in the summary) while the run goes on. jpeg_quality:
    images are stored JPEG-encoded at this quality (1-100; a VGA frame is ~50 kB instead of
    900 kB raw), or raw with 0. Open the file with ``rerun OUT/run.rrd``.
    """

    name = "rerun"
    filename = "run.rrd"

    def __init__(self, out_dir: str | os.PathLike[str], *, serve: bool = False, web_port: int = 9090, grpc_port: int = 9876,
                 jpeg_quality: int = 90, application_id: str = "sensorium") -> None:
        if not isinstance(serve, bool):
            raise ValueError(f"rerun sink: serve expects true or false, got {serve!r}")
        for option, port in (("web_port", web_port), ("grpc_port", grpc_port)):
            if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
                raise ValueError(f"rerun sink: {option} expects a TCP port 0-65535 (0: a free one), got {port!r}")
        if not isinstance(jpeg_quality, int) or isinstance(jpeg_quality, bool) or not 0 <= jpeg_quality <= 100:
            raise ValueError(f"rerun sink: jpeg_quality expects 1-100, or 0 for raw images, got {jpeg_quality!r}")
        import rerun as rr

        super().__init__(out_dir)
        self.path = self.out_dir / self.filename
        self.jpeg_quality = jpeg_quality or None
        self.viewer = None
        self.rec = rr.RecordingStream(application_id, recording_id=uuid.uuid4())
        if serve:
            from sensorium.pipeline.io.sinks.rerun.viewer import WebViewer

            self.viewer = WebViewer(web_port, grpc_port)
            self.rec.set_sinks(rr.FileSink(str(self.path)), rr.GrpcSink(self.viewer.grpc_url))
        else:
            self.rec.save(self.path)
        self._sources: set[str] = set()
        self._seconds = 0.0

    @property
    def viewer_url(self) -> str | None:
        """The web viewer showing this recording live, when ``serve``."""
        return None if self.viewer is None else self.viewer.url

    def _write(self, frame: Frame) -> str | None:
        from sensorium.pipeline.io.sinks.rerun.entities import log_frame, log_static

        t0 = time.perf_counter()
        if frame.source_id not in self._sources:
            log_static(self.rec, frame.source_id)
            self._sources.add(frame.source_id)
        log_frame(self.rec, frame, jpeg_quality=self.jpeg_quality)
        self._seconds += time.perf_counter() - t0
        return None

    def _close(self) -> dict[str, Any]:
        try:
            self.rec.flush()
            self.rec.disconnect()  # writes the file's footer and closes it
        finally:
            exit_code = self.viewer.close() if self.viewer is not None else None
        out: dict[str, Any] = {"path": str(self.path), "bytes": self.path.stat().st_size if self.path.exists() else 0,
                               "log_ms_per_frame": round(1000 * self._seconds / max(self.written, 1), 2)}
        if self.viewer is not None:
            out.update(viewer_url=self.viewer.url, viewer_exit=exit_code)
        return out
