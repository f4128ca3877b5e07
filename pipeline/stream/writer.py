"""SinkWriter: sinks run in their own thread, off the engine's dispatch loop.

Writing is slow (compressing arrays, encoding video: ~30-100 ms per VGA frame) and mostly in
C code that releases the GIL, so a writer thread overlaps it with dispatching and with the
stage actors. The queue is bounded: a writer that falls behind slows the driver down instead
of holding unbounded frames in memory.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Iterable

from sensorium.stages.frame import Frame

log = logging.getLogger(__name__)

_STOP = object()


class SinkWriter:
    """Hands frames to every sink in order, in one background thread."""

    def __init__(self, sinks: Iterable[Any], queue_size: int = 8) -> None:
        self.sinks = list(sinks)
        self.failures: dict[str, int] = {}
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="sensorium-sinks", daemon=True)
        self._thread.start()

    def put(self, frame: Frame) -> None:
        """Queue ``frame`` for the sinks; blocks while the queue is full (backpressure)."""
        if not self._thread.is_alive():
            raise RuntimeError("sink writer has stopped")
        self._queue.put(frame)

    def _run(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is _STOP:
                return
            for sink in self.sinks:
                try:
                    sink.write(frame)
                except Exception:  # noqa: BLE001 - one sink's trouble must not stop the others
                    name = type(sink).__name__
                    self.failures[name] = self.failures.get(name, 0) + 1
                    log.exception("sink %s failed on %s", name, frame.key)

    def close(self) -> dict[str, Any]:
        """Drain the queue, close every sink; returns each sink's summary."""
        self._queue.put(_STOP)
        self._thread.join()
        summary: dict[str, Any] = {}
        for sink in self.sinks:
            name = type(sink).__name__
            try:
                summary[name] = sink.close()
            except Exception as exc:  # noqa: BLE001
                log.exception("sink %s failed to close", name)
                summary[name] = {"error": str(exc)}
            if name in self.failures and isinstance(summary[name], dict):
                summary[name].setdefault("write_failures", self.failures[name])
        return summary
