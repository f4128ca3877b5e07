"""What every sink shares: the ``Sink`` protocol, ``BaseSink``'s bookkeeping (counters, failure
isolation, idempotent close) and the file names derived from source ids."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from sensorium.stages.frame import Frame

log = logging.getLogger(__name__)


@runtime_checkable
class Sink(Protocol):
    """Anything frames can be written to."""

    name: str

    def write(self, frame: Frame) -> None:
        """Consume one frame; never raises for a bad frame (counts it instead)."""

    def close(self) -> dict[str, Any]:
        """Flush and release files; return a JSON-safe summary. Idempotent."""


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(source_id: str) -> str:
    """A file-name-safe, collision-free stem for ``source_id``.

    Ids made of letters, digits, ``.``, ``_`` and ``-`` (not starting with a dot, at most 80
    characters) are kept as they are; any other id (``rtsp://cam/1``, ``../x``, ``""``) becomes
    its sanitised form plus 8 hex digits of its sha1, so two ids never share a file.
    """
    text = str(source_id)
    if text and len(text) <= 80 and not _UNSAFE.search(text) and not text.startswith("."):
        return text
    stem = _UNSAFE.sub("_", text).strip("._")[:60] or "source"
    return f"{stem}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]}"


def frame_stem(frame: Frame) -> str:
    """``<safe source id>_<seq:06d>``: the per-frame file stem shared by the array sinks."""
    return f"{safe_name(frame.source_id)}_{frame.seq:06d}"


class BaseSink:
    """Bookkeeping shared by the sinks: counters, failure isolation, idempotent close.

    Subclasses implement ``_write(frame) -> None | str`` (None when written, else the reason
    for skipping) and optionally ``_close() -> dict`` (extra summary fields).
    """

    name: ClassVar[str] = ""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.written = 0
        self.failed = 0
        self.skipped: Counter[str] = Counter()
        self._summary: dict[str, Any] | None = None

    def write(self, frame: Frame) -> None:
        if self._summary is not None:
            raise RuntimeError(f"{self.name} sink: write after close")
        try:
            reason = self._write(frame)
        except Exception as exc:  # noqa: BLE001 - one bad frame must not end the run
            self.failed += 1
            # the first traceback explains the rest; later failures are one line each
            log.warning("%s sink failed on %s: %s: %s", self.name, getattr(frame, "key", frame), type(exc).__name__, exc,
                        exc_info=self.failed == 1)
            return
        if reason is None:
            self.written += 1
        else:
            self.skipped[reason] += 1

    def close(self) -> dict[str, Any]:
        if self._summary is not None:
            return self._summary
        extra: dict[str, Any] = {}
        try:
            extra = self._close() or {}
        except Exception as exc:  # noqa: BLE001 - report it; the other sinks still close
            log.exception("%s sink failed to close", self.name)
            extra = {"close_error": f"{type(exc).__name__}: {exc}"}
        self._summary = {"sink": self.name, "written": self.written, "skipped": dict(self.skipped), "failed": self.failed, **extra}
        log.info("%s sink closed: %s", self.name, self._summary)
        return self._summary

    def _write(self, frame: Frame) -> str | None:
        raise NotImplementedError

    def _close(self) -> dict[str, Any]:
        return {}

    def __enter__(self) -> "BaseSink":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
