"""One way to download a file: streamed to a temporary file beside its destination, checked,
then renamed into place, so no reader ever sees a partial or unverified file.

Shared by the weights cache (``sensorium models pull``) and the test data (``sensorium data
fetch``): both refuse a short transfer and a wrong sha256, and both leave nothing behind when
they do. A rerun after an interruption starts the file again (no byte ranges: the files are small
enough that a restart costs less than trusting a half-written one).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from sensorium.models.hub.files import sha256_file

Progress = Callable[[int, "int | None"], None]  # (bytes so far, total bytes or None)
#: a base URL tried before the published ones, for users behind a proxy or with a local copy
#: (``SENSORIUM_MODELS_MIRROR`` for weights: MIRROR/FILENAME; ``SENSORIUM_DATA_MIRROR`` for test data: MIRROR/PATH)
MODELS_MIRROR_ENV = "SENSORIUM_MODELS_MIRROR"
DATA_MIRROR_ENV = "SENSORIUM_DATA_MIRROR"


class ChecksumError(ValueError):
    """Bytes that are not the expected ones: a truncated transfer, another version, corruption."""


def mirrored(env: str, name: str) -> list[str]:
    """``[MIRROR/name]`` when the environment variable ``env`` names a mirror, else ``[]``."""
    base = os.environ.get(env, "").strip()
    return [f"{base.rstrip('/')}/{name.lstrip('/')}"] if base else []


def check_sha256(path: Path, *, sha256: str | None, size: int | None = None, what: str = "") -> str:
    """The file's sha256, after checking its size and (when given) its sha256; ChecksumError
    naming the file, what was expected and what was found otherwise."""
    label = what or str(path)
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        raise ChecksumError(f"{label}: {got_size} bytes, expected {size} (truncated or another version)")
    got = sha256_file(path, fresh=True)
    if sha256 is not None and got != sha256:
        raise ChecksumError(f"{label}: sha256 {got}, expected {sha256} (corrupt or another version)")
    return got


def _stream(url: str, fd: int, size: int | None, progress: Progress | None) -> tuple[int, int | None]:
    """Copy ``url`` into the open file ``fd``: (bytes written, bytes announced or expected).
    A connection that ends early is a ChecksumError (truncated), like a short body."""
    import http.client
    import urllib.request

    done = 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - registry URLs
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else size
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except http.client.HTTPException as exc:  # IncompleteRead and friends are not OSErrors
        raise ChecksumError(f"{url}: the transfer broke off after {done} bytes ({type(exc).__name__}): truncated") from None
    return done, total


def download(url: str, dest: Path, *, check: Callable[[Path], object], size: int | None = None,
             progress: Progress | None = None) -> Path:
    """Fetch ``url`` to ``dest``: streamed into ``.NAME.*.part`` beside it, ``check(tmp)`` (which
    raises on bytes it refuses), then renamed over ``dest``. On any failure the temporary file is
    deleted and ``dest`` is left as it was. Raises OSError (network, disk) or ChecksumError."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        done, total = _stream(url, fd, size, progress)
        if total is not None and done != total:
            raise ChecksumError(f"{url} sent {done} of {total} bytes (truncated)")
        check(Path(tmp))
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest
