"""One stream's runner: the stream engine over one source, in a Ray actor of its own.

The runner creates the stream's :class:`~sensorium.pipeline.stream.engine.Pipeline` (its
stage actors) from inside its actor, so Ray makes it their owner: killing the runner kills
them, and deleting a stream cannot leak a model. Frames come out as JSONL records into a
bounded ring buffer (for server-sent events) and, at most ``preview_fps`` times a second, as
one annotated JPEG shared by every preview viewer. Readers wait on a condition variable
(long polling), so the actor runs threaded (``max_concurrency`` > 1).
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import threading
import time
from collections import Counter, deque
from typing import Any

import cv2
import ray

from sensorium.pipeline.io.sinks import build_sinks
from sensorium.pipeline.io.sinks.annotate import frame_annotator
from sensorium.pipeline.io.sinks.jsonl import frame_record
from sensorium.pipeline.io.sources import ReconnectPolicy, Source, SourceState, open_source
from sensorium.pipeline.serve.streams.spec import StreamSpec
from sensorium.pipeline.stream.engine import Pipeline
from sensorium.pipeline.stream.metrics import PipelineMetrics
from sensorium.pipeline.stream.writer import SinkWriter
from sensorium.stages.frame import Frame

log = logging.getLogger(__name__)

#: capture-to-result latency buckets, seconds
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: live sources reconnect quickly at first, then every few seconds at most, forever
RECONNECT = ReconnectPolicy(initial_delay_s=0.5, max_delay_s=4.0)
STAGE_READY_TIMEOUT_S = 180.0
#: the ring buffer of results also holds at most this many bytes (records with image crops are large)
RESULTS_BUFFER_BYTES = 32 * 1024 * 1024


class StreamRunner:
    """Runs ``spec``'s pipeline in a thread from :meth:`start` until :meth:`stop`."""

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._records: deque[tuple[int, str]] = deque()
        self._records_bytes = 0
        self._seq = 0
        self._preview: tuple[int, bytes] | None = None
        self._preview_at = 0.0
        self._draw = frame_annotator()  # one per stream: depth colours stay put from frame to frame
        self._state, self._error, self._done = "starting", None, False
        self._source: Source | None = None
        self._readers: list[Any] = []
        self._pipeline: Pipeline | None = None
        self._errors: Counter[str] = Counter()
        self._latency = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._emitted: deque[float] = deque(maxlen=32)
        self._thread = threading.Thread(target=self._run, name=f"stream-{spec.id}", daemon=True)

    # --- control --------------------------------------------------------------------------
    def start(self) -> int:
        """Start the stream (its stages load in the background); returns this process's pid."""
        if not self._thread.is_alive() and not self._done:
            self._thread.start()
        return os.getpid()

    def stop(self, timeout: float = 10.0) -> dict[str, Any]:
        """Stop reading, let the frames in flight finish, close sinks and stage actors; the final stats."""
        self._stop.set()
        if self._source is not None:
            self._source.close()
        for reader in list(self._readers):
            reader.stop(timeout=0.5)
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._cond:
            self._done = True
            if self._state not in ("failed",):
                self._state = "stopped"
            self._cond.notify_all()
        return self.stats()

    # --- the stream -----------------------------------------------------------------------
    def _open(self) -> Source:
        live = isinstance(self.spec.source, int) or "://" in str(self.spec.source)
        options = {"reconnect": RECONNECT, "read_timeout_s": 3.0, "open_timeout_s": 3.0} if live else {}
        return open_source(self.spec.source, source_id=self.spec.id, **options)

    def _run(self) -> None:
        pipeline = writer = None
        try:
            self._source = self._open()
            pipeline = self._pipeline = Pipeline(self.spec.config, metrics=PipelineMetrics(keep_samples=4096), ready_timeout_s=STAGE_READY_TIMEOUT_S)
            pipeline.start()
            if self.spec.sinks:
                writer = SinkWriter(build_sinks(self.spec.sinks, self.spec.out_dir or "."), queue_size=8)
            if not self._stop.is_set():
                for frame in pipeline.stream([self._source], readers_out=self._readers):
                    self._emit(frame)
                    if writer is not None:
                        writer.put(frame)
            self._finish(None)
        except Exception as exc:  # noqa: BLE001 - a failed stream reports why; it never takes the service down
            log.exception("stream %s failed", self.spec.id)
            self._finish(f"{type(exc).__name__}: {exc}")
        finally:
            if writer is not None:
                writer.close()
            if pipeline is not None:
                pipeline.close()

    def _finish(self, error: str | None) -> None:
        source_error = self._source.error if self._source is not None and self._source.state is SourceState.ERROR else None
        with self._cond:
            error = error or source_error
            self._state, self._error, self._done = ("failed" if error else "stopped"), error or self._error, True
            self._cond.notify_all()

    def _emit(self, frame: Frame) -> None:
        record = json.dumps(frame_record(frame), separators=(",", ":"))
        now = time.time()
        latency = max(now - frame.timestamp, 0.0)
        jpeg = None
        if now - self._preview_at >= 1.0 / self.spec.preview_fps:
            self._preview_at = now
            jpeg = _jpeg(frame, self._draw)
        with self._cond:
            self._seq += 1
            self._records.append((self._seq, record))
            self._records_bytes += len(record)
            while len(self._records) > self.spec.results_buffer or self._records_bytes > RESULTS_BUFFER_BYTES:
                self._records_bytes -= len(self._records.popleft()[1])
            if jpeg is not None:
                self._preview = (self._seq, jpeg)
            self._errors.update(frame.errors.keys())
            if frame.errors:
                self._error = "; ".join(f"{k}: {v}" for k, v in frame.errors.items())[:500]
            self._latency[bisect.bisect_left(LATENCY_BUCKETS, latency)] += 1
            self._latency_sum += latency
            self._emitted.append(time.monotonic())
            self._cond.notify_all()

    def processes(self) -> dict[str, Any]:
        """This runner's pid and its stage actors' pids (empty until the stages are up)."""
        pipeline = self._pipeline
        actors = pipeline.actors() if pipeline is not None else []
        return {"runner": os.getpid(), "stages": ray.get([a.ready.remote() for a in actors], timeout=30) if actors else []}

    # --- reading --------------------------------------------------------------------------
    def results(self, after: int, timeout: float) -> tuple[list[tuple[int, str]], bool]:
        """Records numbered after ``after`` (waiting up to ``timeout`` s for one), and whether
        the stream has ended (no more will come). An ``after`` beyond the newest record (a
        client's stale id) starts from the oldest kept."""
        with self._cond:
            after = after if after <= self._seq else 0
            self._cond.wait_for(lambda: self._seq > after or self._done, timeout=max(timeout, 0.0))
            return [r for r in self._records if r[0] > after], self._done

    def preview(self, after: int, timeout: float) -> tuple[int, bytes | None, bool]:
        """The newest preview JPEG if newer than ``after`` (waiting up to ``timeout`` s), its
        number, and whether the stream has ended."""
        with self._cond:
            self._cond.wait_for(lambda: (self._preview is not None and self._preview[0] > after) or self._done, timeout=max(timeout, 0.0))
            if self._preview is not None and self._preview[0] > after:
                return self._preview[0], self._preview[1], self._done
            return after, None, self._done

    def stats(self) -> dict[str, Any]:
        """State, counters and the latency histogram (cumulative bucket counts) of the stream."""
        with self._cond:
            q = self._emitted
            fps = (len(q) - 1) / (q[-1] - q[0]) if len(q) >= 2 and q[-1] > q[0] and time.monotonic() - q[-1] < 5 else 0.0
            source = self._source
            return {
                "state": self._live_state(), "fps": round(fps, 3), "frames": self._seq,
                "drops": sum(r.dropped for r in self._readers), "reconnects": int(getattr(source, "reconnects", 0)),
                "errors": dict(self._errors), "last_error": self._error or (source.error if source is not None else None),
                "latency": {"buckets": list(LATENCY_BUCKETS), "counts": list(self._latency), "sum": self._latency_sum},
            }

    def _live_state(self) -> str:
        if self._done or self._state != "starting":
            return self._state
        if self._source is None or not self._readers:
            return "starting"
        state = self._source.state
        if state is SourceState.RUNNING:
            return "running"
        if state is SourceState.RECONNECTING or (state is SourceState.CONNECTING and self._seq > 0):
            return "reconnecting"
        return "starting"


def _jpeg(frame: Frame, draw: Any) -> bytes | None:
    """The frame as ``draw`` (the stream's FrameAnnotator) renders it, JPEG-encoded once for every viewer."""
    try:
        canvas = draw(frame)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        return buf.tobytes() if ok else None
    except Exception:  # noqa: BLE001 - a frame that cannot be drawn has no preview; results still flow
        log.warning("stream preview: cannot draw %s", frame.key, exc_info=True)
        return None
