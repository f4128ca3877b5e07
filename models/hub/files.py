"""The one file hash of the project: sha256 of a file's bytes, for weights, exports and cache keys."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

_lock = threading.Lock()
_cache: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | Path, *, fresh: bool = False) -> str:
    """Hex sha256 of the file's bytes.

    Remembered per (resolved path, size, mtime_ns), so resolving the same weights at every actor
    start reads them once per process; ``fresh=True`` always reads the bytes (a tamper check that
    must not trust the file's metadata). Raises OSError when the file cannot be read.
    """
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if not fresh:
        with _lock:
            if key in _cache:
                return _cache[key]
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _lock:
        _cache[key] = digest
    return digest
