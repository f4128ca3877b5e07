"""What every source kind shares: the ``Source`` base (numbering, validation, error frames,
state bookkeeping, close from any thread), its states, the reconnect policy of live kinds and the
``SourceItem`` a kind's reading loop yields."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sensorium.pipeline.io.images import ImageError
from sensorium.stages.camera import Intrinsics, StereoCalibration
from sensorium.stages.frame import Frame

log = logging.getLogger(__name__)


class SourceState(str, Enum):
    CONNECTING = "connecting"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    ERROR = "error"


@dataclass(frozen=True)
class ReconnectPolicy:
    """When a live source retries and when it gives up.

    The n-th consecutive failure waits ``min(initial_delay_s * factor ** (n - 1), max_delay_s)``
    before the next attempt to open. The source gives up (state ``error``) after ``max_attempts``
    such retries (``None``: no limit on the count) or once ``give_up_after_s`` seconds passed
    without a frame, counted from the start or from the last good frame (``None``: never), so an
    operator can bound how long a dead camera keeps a run alive.

    A failure is an open that fails or a read that fails (stream ended, timed out); one good frame
    resets the count and the clock.
    """

    initial_delay_s: float = 0.5
    max_delay_s: float = 10.0
    factor: float = 2.0
    max_attempts: int | None = None
    give_up_after_s: float | None = None

    def __post_init__(self) -> None:
        if self.initial_delay_s < 0 or self.max_delay_s < self.initial_delay_s or self.factor < 1:
            raise ValueError(f"ReconnectPolicy: expected 0 <= initial_delay_s <= max_delay_s and factor >= 1, got {self}")
        if self.max_attempts is not None and self.max_attempts < 0:
            raise ValueError(f"ReconnectPolicy: expected max_attempts >= 0 or None, got {self.max_attempts}")
        if self.give_up_after_s is not None and self.give_up_after_s <= 0:
            raise ValueError(f"ReconnectPolicy: expected give_up_after_s > 0 or None, got {self.give_up_after_s}")

    def delay(self, failures: int) -> float:
        return min(self.initial_delay_s * self.factor ** max(failures - 1, 0), self.max_delay_s)

    def exhausted(self, failures: int) -> bool:
        return self.max_attempts is not None and failures > self.max_attempts

    def timed_out(self, silent_s: float) -> bool:
        """Whether ``silent_s`` seconds without a frame is past ``give_up_after_s``."""
        return self.give_up_after_s is not None and silent_s >= self.give_up_after_s

    def wait_before_retry(self, failures: int, silent_s: float) -> float:
        """The backoff delay, cut short where the give-up clock runs out first (so a source gives
        up on time instead of after its last, longest wait)."""
        delay = self.delay(failures)
        if self.give_up_after_s is not None:
            delay = min(delay, max(self.give_up_after_s - silent_s, 0.0))
        return delay


@dataclass
class SourceItem:
    """What a source kind's ``_read`` yields for one frame; :meth:`Source.frames` numbers it and
    validates it into a Frame. ``error`` set = a bad item (``image`` None), named in the message."""

    image: np.ndarray | None = None
    right: np.ndarray | None = None
    sensor_depth: np.ndarray | None = None
    calib: StereoCalibration | Intrinsics | None = None
    pose: np.ndarray | None = None
    timestamp: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def failed_item(path: Path | str, exc: BaseException, meta: dict[str, Any] | None = None) -> SourceItem:
    """The error item for a file that could not be read: ``"<path>: <what was wrong>"``."""
    if isinstance(exc, ImageError):
        what = exc.problem
    elif isinstance(exc, OSError):
        what = f"cannot read ({exc.strerror or exc})"
    else:
        what = str(exc)
    return SourceItem(error=f"{path}: {what}", meta=meta if meta is not None else {"path": str(path)})


def existing_path(path: str | Path) -> Path:
    """``path`` with ``~`` expanded; FileNotFoundError naming it when nothing is there."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"source {str(path)!r}: no such file or folder")
    return p


class Source(ABC):
    """A stream of frames. Iterate ``frames()`` once at a time; ``close()`` from any thread.

    ``close()`` only signals: the iteration stops at the next item boundary (or backoff wait) and
    releases its resources in the iterating thread, because releasing a ``cv2.VideoCapture``
    while another thread is inside ``read()`` is not safe.

    A new kind subclasses this and implements ``_read()``, yielding :class:`SourceItem` objects;
    numbering, validation, error frames and state bookkeeping stay here.
    """

    live: bool = False

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self.error: str | None = None
        #: times a running live stream was lost and reconnection began (0 for files)
        self.reconnects = 0
        #: recent (time, state, reason) transitions, for health reports and tests
        self.state_log: deque[tuple[float, SourceState, str]] = deque(maxlen=64)
        self._state = SourceState.CONNECTING
        self._closed = threading.Event()
        self._iterating = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source_id!r}, state={self.state.value})"

    @property
    def extras(self) -> frozenset[str]:
        """The :class:`Frame` fields besides ``image`` this source's frames carry (``right`` for a
        stereo pair, ``sensor_depth`` for RGB-D): what the command line checks a stage's
        ``frame_needs`` against before anything runs. Default: none (single images)."""
        return frozenset()

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def state(self) -> SourceState:
        return self._state

    def _set_state(self, state: SourceState, reason: str = "") -> None:
        if state is self._state:
            return
        old, self._state = self._state, state
        self.state_log.append((time.time(), state, reason))
        level = logging.WARNING if state in (SourceState.RECONNECTING, SourceState.ERROR) else logging.INFO
        log.log(level, "source %s: %s -> %s%s", self.source_id, old.value, state.value, f" ({reason})" if reason else "")

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Stop the iteration at the next item boundary; idempotent, callable from any thread."""
        self._closed.set()
        if not self._iterating and self._state is not SourceState.ERROR:
            self._set_state(SourceState.ENDED, "closed")

    def _wait(self, seconds: float) -> bool:
        """Sleep unless closed meanwhile; True when closed."""
        return self._closed.wait(seconds)

    def frames(self) -> Iterator[Frame]:
        """Yield frames, ``seq`` from 0. An unexpected exception sets state ``error`` and propagates."""
        if self._iterating:
            raise RuntimeError(f"source {self.source_id}: frames() is already being iterated")
        self._iterating = True
        self.error = None
        seq, stopped = 0, ""
        if not self._closed.is_set():
            self._set_state(SourceState.CONNECTING, "opening")
        try:
            if self._closed.is_set():
                return
            for item in self._read():
                if self._closed.is_set():
                    break
                if self._state in (SourceState.CONNECTING, SourceState.RECONNECTING):
                    self._set_state(SourceState.RUNNING)
                yield self._frame(seq, item)
                seq += 1
        except GeneratorExit:
            stopped = "stopped by the consumer"
            raise
        except Exception as exc:
            self.error = f"{self.source_id}: {type(exc).__name__}: {exc}"
            self._set_state(SourceState.ERROR, self.error)
            raise
        finally:
            self._iterating = False
            if self._state is not SourceState.ERROR:
                self._set_state(SourceState.ENDED, "closed" if self._closed.is_set() else stopped or f"end of input after {seq} frames")

    def _fail(self, message: str) -> None:
        """End a live source for good (attempts exhausted): state ``error`` without a traceback."""
        self.error = message
        self._set_state(SourceState.ERROR, message)

    def _frame(self, seq: int, item: SourceItem) -> Frame:
        stamp = item.timestamp if item.timestamp is not None else time.time()
        if item.error is None:
            try:
                return Frame(self.source_id, seq, stamp, image=item.image, right=item.right, sensor_depth=item.sensor_depth,
                             calib=item.calib, pose=item.pose, meta=item.meta)
            except ValueError as exc:  # wrong shape/dtype from a reader: the item is bad, not the source
                item.error = f"{item.meta.get('path', f'{self.source_id}#{seq}')}: {exc}"
        return Frame(self.source_id, seq, stamp, errors={"source": item.error}, meta=item.meta)

    @abstractmethod
    def _read(self) -> Iterator[SourceItem]:
        """The kind's reading loop; checks ``self._closed`` between items and releases what it opened."""
