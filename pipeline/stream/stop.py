"""Stopping a run on request: a flag the engine polls, and the signal handlers that raise it.

A signal handler may run between any two bytecodes of the main thread, so it only records the
request; the engine's loop sees it within one turn (a turn waits at most ~50 ms) and stops in
order: no more reading, the frames in flight finish (or are dropped after ``drain_timeout_s``),
the sinks flush, the summary is written. A second request means "now": the frames still in
flight are dropped at once and counted; what was finished is still written.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

log = logging.getLogger(__name__)


class StopRequest:
    """A thread- and signal-safe stop flag: the first :meth:`request` asks for a drain, the
    second forces the stop. ``reason`` is the first request's (e.g. ``"SIGTERM"``)."""

    def __init__(self, drain_timeout_s: float = 10.0) -> None:
        if drain_timeout_s < 0:
            raise ValueError(f"drain_timeout_s must be >= 0, got {drain_timeout_s}")
        self.drain_timeout_s = drain_timeout_s
        self.reason: str | None = None
        self.requested_at: float | None = None
        self._requested = threading.Event()
        self._forced = threading.Event()

    def __repr__(self) -> str:
        return f"StopRequest(reason={self.reason!r}, forced={self.forced})"

    def request(self, reason: str) -> None:
        """Ask the run to stop (first call: drain; any later call: stop now)."""
        if self._requested.is_set():
            self._forced.set()
            return
        self.reason, self.requested_at = reason, time.monotonic()
        self._requested.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    @property
    def forced(self) -> bool:
        return self._forced.is_set()

    def drain_expired(self) -> bool:
        """Whether the drain must end now: forced, or ``drain_timeout_s`` after the request."""
        if self.forced:
            return True
        return self.requested_at is not None and time.monotonic() - self.requested_at >= self.drain_timeout_s


class SignalStop:
    """Turns ``signals`` into ``stop.request(<signal name>)``: ``with SignalStop(stop):`` (main
    thread only, as Python requires). :meth:`install` may be called again inside the block to
    take the signals back from code that set its own handlers meanwhile (``ray.init`` sets a
    SIGTERM handler that exits with a stack dump); leaving the block restores the handlers from
    before it. A third signal, after the forced stop, gets those handlers, so a stuck run can
    still be killed the usual way."""

    def __init__(self, stop: StopRequest, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.stop, self.signals = stop, signals
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "SignalStop":
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous = {}

    def install(self) -> None:
        for sig in self.signals:
            old = signal.signal(sig, self._handle)
            self._previous.setdefault(sig, old)

    def _handle(self, signum: int, _frame: Any) -> None:
        name, stop = signal.Signals(signum).name, self.stop
        if stop.forced:
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        stop.request(name)
        if stop.forced:
            log.warning("%s again: stopping now, dropping the frames in flight", name)
        else:
            log.warning("%s: stopping; finishing the frames in flight (at most %.0f s; again to stop now)", name, stop.drain_timeout_s)


@contextmanager
def stop_on_signals(stop: StopRequest, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[SignalStop]:
    """``with stop_on_signals(stop):`` the signals request the stop (see :class:`SignalStop`)."""
    with SignalStop(stop, signals) as handlers:
        yield handlers
