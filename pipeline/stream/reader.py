"""SourceReader: one source read in its own thread into a bounded queue with a drop policy.

Reading in a thread per source keeps slow I/O (a decoding video, a stalled stream in its read
timeout, a reconnect backoff) off the consumer: ``get`` never waits longer than its timeout, so
a dead source never stalls the others. The drop policy decides what happens when the consumer
falls behind:

* ``block`` (default for files): the reader waits for room, so backpressure reaches the source
  and nothing is lost;
* ``drop_oldest`` (default for live sources): the oldest queued frame makes room, so the consumer
  sees recent frames and ``dropped`` counts the loss;
* ``latest_only``: the queue holds one frame, the newest (lowest latency; ``queue_size`` ignored).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from enum import Enum
from typing import Iterator

from sensorium.stages.frame import Frame

from sensorium.pipeline.io.sources import Source, SourceState

log = logging.getLogger(__name__)


class DropPolicy(str, Enum):
    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    LATEST_ONLY = "latest_only"


class SourceReader:
    """Reads ``source.frames()`` in a daemon thread (``start()``) into a queue of ``queue_size`` frames.

    ``drop_policy``: a :class:`DropPolicy` or its value; None = ``drop_oldest`` for live sources,
    ``block`` otherwise. An exception in the source ends the reader with state ``error`` and the
    message in ``error``; it never reaches the consumer's thread.
    """

    def __init__(self, source: Source, *, queue_size: int = 8, drop_policy: DropPolicy | str | None = None) -> None:
        if queue_size < 1:
            raise ValueError(f"SourceReader({source.source_id}): queue_size must be >= 1, got {queue_size}")
        if drop_policy is None:
            drop_policy = DropPolicy.DROP_OLDEST if source.live else DropPolicy.BLOCK
        try:
            self.drop_policy = DropPolicy(drop_policy)
        except ValueError:
            raise ValueError(f"SourceReader({source.source_id}): drop_policy must be one of {', '.join(p.value for p in DropPolicy)}, got {drop_policy!r}") from None
        self.source = source
        self.queue_size = 1 if self.drop_policy is DropPolicy.LATEST_ONLY else queue_size
        #: frames discarded by the drop policy; frames taken from the source
        self.dropped = 0
        self.received = 0
        self._error: str | None = None
        self._queue: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name=f"source-{source.source_id}", daemon=True)

    def __repr__(self) -> str:
        return f"SourceReader({self.source.source_id!r}, {self.drop_policy.value}, state={self.state.value}, queued={len(self._queue)}, dropped={self.dropped})"

    def __enter__(self) -> "SourceReader":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "SourceReader":
        """Start the reading thread (idempotent)."""
        if not self._thread.is_alive() and not self._done and not self._stop.is_set():
            self._thread.start()
        return self

    @property
    def state(self) -> SourceState:
        return SourceState.ERROR if self._error is not None else self.source.state

    @property
    def error(self) -> str | None:
        """Why the source failed (an exception in its thread, or its attempts exhausted), else None."""
        if self._error is not None:
            return self._error
        return self.source.error if self.source.state is SourceState.ERROR else None

    @property
    def alive(self) -> bool:
        """Whether the thread is still reading (frames may still be queued after it ends)."""
        return self._thread.is_alive()

    @property
    def finished(self) -> bool:
        """The source ended, failed or was stopped, and every queued frame was taken."""
        with self._cond:
            return self._done and not self._queue

    def __len__(self) -> int:
        """Frames queued now."""
        return len(self._queue)

    def get(self, timeout: float = 1.0) -> Frame | None:
        """The oldest queued frame, waiting at most ``timeout`` seconds (0: don't wait); None if none came."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            while not self._queue:
                remaining = deadline - time.monotonic()
                if self._done or remaining <= 0:
                    return None
                self._cond.wait(remaining)
            frame = self._queue.popleft()
            self._cond.notify_all()  # room for a blocked producer
            return frame

    def __iter__(self) -> Iterator[Frame]:
        """Frames until the reader is finished (forever for a live source that is not stopped)."""
        while not self.finished:
            frame = self.get(timeout=0.1)
            if frame is not None:
                yield frame

    def stop(self, timeout: float = 2.0) -> None:
        """Stop reading and wait up to ``timeout`` s for the thread; queued frames stay gettable.

        A thread blocked on a full queue or in a reconnect backoff wakes at once; one inside a
        backend read (``cv2.VideoCapture.read``) ends when that read returns, within the source's
        read timeout. The thread is a daemon, so a stuck backend cannot keep the process alive.
        ``timeout=0`` only signals (a run stopping on request does not wait for a read).
        """
        self._stop.set()
        self.source.close()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
            if self._thread.is_alive() and timeout > 0:
                log.warning("source %s: reader thread still inside a read after %.1f s; left to finish on its own", self.source.source_id, timeout)
        with self._cond:
            if not self._thread.is_alive():
                self._done = True
            self._cond.notify_all()

    def _put(self, frame: Frame) -> bool:
        """Queue ``frame`` by the drop policy; False when stopped while waiting for room."""
        with self._cond:
            if self.drop_policy is DropPolicy.BLOCK:
                while len(self._queue) >= self.queue_size:
                    if self._stop.is_set():
                        return False
                    self._cond.wait()
            elif len(self._queue) >= self.queue_size:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(frame)
            self.received += 1
            self._cond.notify_all()
            return True

    def _run(self) -> None:
        frames = self.source.frames()
        try:
            for frame in frames:
                if self._stop.is_set() or not self._put(frame):
                    break
        except Exception as exc:  # noqa: BLE001 - a failing source ends its reader, never the process
            self._error = self.source.error or f"{self.source.source_id}: {type(exc).__name__}: {exc}"
            log.exception("source %s failed", self.source.source_id)
        finally:
            try:
                frames.close()  # releases the source's capture/files in this thread
            except Exception:  # noqa: BLE001
                log.exception("source %s: error while closing", self.source.source_id)
            with self._cond:
                self._done = True
                self._cond.notify_all()
            log.debug("source %s: reader done (%d frames, %d dropped, state %s)", self.source.source_id, self.received, self.dropped, self.state.value)
