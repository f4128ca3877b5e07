"""One driver per output folder: two jobs writing into one folder would both write every row
(each sees the other's work only when it started). ``OUT/.lock`` is held with ``flock`` for the
job's life: the kernel releases it when the process ends, killed or not, so a lock left behind
by a dead driver never blocks the next one. The file holds the holder's pid, host and start
time, for the message the second driver gets. On NFS ``flock`` is only as good as the mount's
lock support."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

LOCK = ".lock"


class OutputLocked(OSError):
    """Another live process holds the output folder."""


class OutputLock:
    """``with OutputLock(folder):`` hold ``folder/.lock`` or raise :class:`OutputLocked`
    naming the folder and the holding process. Not re-entrant within one process."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        # O_CLOEXEC (Python's default): a child (Ray's processes) must not inherit the lock and outlive us with it
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.pread(fd, 4096, 0))
            os.close(fd)
            raise OutputLocked(f"{self.folder} is being written by another batch job ({holder}); wait for it to end "
                               "or use another --output") from None
        except BaseException:
            os.close(fd)
            raise
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)  # the lock file stays (unlinking it would race a third driver); empty: nobody holds it
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> "OutputLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _describe(raw: bytes) -> str:
    """The holder as its lock file names it; a holder that has not written yet is still one."""
    try:
        info = json.loads(raw.decode())
        return f"pid {info['pid']} on {info['host']}, since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "a process that has just started it"
