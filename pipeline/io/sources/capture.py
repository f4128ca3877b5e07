"""Live sources: cameras by device index and network streams (RTSP, HTTP(S) MJPEG, ...), which
reconnect with exponential backoff."""

from __future__ import annotations

import logging
import re
import time
from typing import Iterator

import cv2

from sensorium.pipeline.io.sources.base import ReconnectPolicy, Source, SourceItem, SourceState

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://")



def redact(url: str) -> str:
    """The URL without a password, for ids and logs."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1***@", url, flags=re.IGNORECASE)


class CaptureSource(Source):
    """A live camera (device index) or network stream (RTSP, HTTP(S) MJPEG, ...) via cv2.VideoCapture.

    Streams open through OpenCV's FFmpeg backend with open/read timeouts, so a silent server
    turns into a failed read instead of a hung thread; FFmpeg's HTTP reader handles
    ``multipart/x-mixed-replace`` (MJPEG) streams. Any failed open or read (server gone, stream
    closed, timeout) reconnects by ``reconnect``; ``seq`` keeps counting across reconnections.
    """

    live = True

    def __init__(self, target: int | str, *, source_id: str | None = None, reconnect: ReconnectPolicy | dict | None = None,
                 open_timeout_s: float = 5.0, read_timeout_s: float = 5.0) -> None:
        self.target = target
        self.name = f"camera {target}" if isinstance(target, int) else redact(target)
        super().__init__(source_id or (f"camera{target}" if isinstance(target, int) else self.name))
        self.reconnect = ReconnectPolicy(**reconnect) if isinstance(reconnect, dict) else (reconnect or ReconnectPolicy())
        if open_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError(f"source {self.source_id}: timeouts must be positive, got open {open_timeout_s} s, read {read_timeout_s} s")
        self.open_timeout_s, self.read_timeout_s = open_timeout_s, read_timeout_s
        #: consecutive failed opens/reads since the last good frame
        self.failures = 0

    def _open(self) -> cv2.VideoCapture | None:
        if isinstance(self.target, int):
            cap = cv2.VideoCapture(self.target)
        else:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000), cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000)]
            cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _read(self) -> Iterator[SourceItem]:
        self.failures, connected = 0, False
        last_frame = time.monotonic()  # the give-up clock: from the start, then from each good frame
        while not self._closed.is_set():
            cap = self._open()
            if cap is None:
                reason = "cannot open"
            else:
                connected = True
                self._set_state(SourceState.RUNNING, f"opened {self.name}")
                reason = "stream ended or read timed out"
                try:
                    while not self._closed.is_set():
                        ok, bgr = cap.read()
                        if not ok:
                            break
                        self.failures, last_frame = 0, time.monotonic()
                        yield SourceItem(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), timestamp=time.time())
                finally:
                    cap.release()
            if self._closed.is_set():
                return
            self.failures += 1
            silent = time.monotonic() - last_frame
            if self._gave_up(reason, silent):
                return
            delay = self.reconnect.wait_before_retry(self.failures, silent)
            self.reconnects += self._state is SourceState.RUNNING
            self._set_state(SourceState.RECONNECTING if connected else SourceState.CONNECTING, f"{self.name}: {reason}")
            log.warning("source %s: %s; retry %d in %.2f s", self.source_id, reason, self.failures, delay)
            if self._wait(delay):
                return

    def _gave_up(self, reason: str, silent_s: float) -> bool:
        """End the source in ``error`` when the policy's attempts or its no-frame time are spent."""
        if self.reconnect.exhausted(self.failures):
            self._fail(f"{self.name}: {reason}; gave up after {self.failures - 1} retries")
        elif self.reconnect.timed_out(silent_s):
            self._fail(f"{self.name}: {reason}; gave up after {silent_s:.1f} s without a frame "
                       f"(limit {self.reconnect.give_up_after_s:g} s, {self.failures - 1} retries)")
        else:
            return False
        return True
