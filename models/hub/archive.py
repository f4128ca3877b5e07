"""One file out of a published zip (InsightFace ships ArcFace's ``w600k_r50.onnx`` inside
``buffalo_l.zip``): the archive's hash is checked before the zip is opened, the member's after
it is written, and only that member is written, under the cache's own file name.

The downloader (``weights._download``) calls :func:`extract_member` inside its check of the
downloaded zip; the registry says which member (``Url(url, member=...)``).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

from sensorium.models.hub.files import sha256_file

#: a member larger than this is refused (a zip bomb, or not the file the registry means)
MAX_MEMBER_BYTES = 2 << 30


def extract_member(archive: str | Path, member: str, dest: str | Path, *, archive_sha256: str | None = None,
                   member_sha256: str | None = None) -> Path:
    """Write ``member`` of the zip ``archive`` to ``dest`` and return ``dest``.

    Raises ValueError when the archive's sha256 is not ``archive_sha256`` (before opening it),
    when it is not a zip, when ``member`` is not in it (the message lists what is) or is larger
    than :data:`MAX_MEMBER_BYTES`, and when the written file's sha256 is not ``member_sha256``
    (nothing is left at ``dest`` then). ``member`` may be a bare file name when exactly one
    member has it (archives differ in their top folder)."""
    archive, dest = Path(archive), Path(dest)
    if archive_sha256 is not None and (got := sha256_file(archive, fresh=True)) != archive_sha256:
        raise ValueError(f"{archive}: sha256 {got} is not the published {archive_sha256}; delete it and fetch it again")
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise ValueError(f"{archive}: expected a zip archive holding {member}, could not open it as one") from None
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        found = [n for n in names if n == member] or [n for n in names if n.rsplit("/", 1)[-1] == member]
        if len(found) != 1:
            raise ValueError(f"{archive}: expected one member {member!r}, found {len(found)} among {', '.join(names[:20])}")
        info = zf.getinfo(found[0])
        if info.file_size > MAX_MEMBER_BYTES:
            raise ValueError(f"{archive}: member {found[0]} is {info.file_size} bytes, above the {MAX_MEMBER_BYTES} allowed")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        digest = hashlib.sha256()
        with zf.open(info) as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    if member_sha256 is not None and digest.hexdigest() != member_sha256:
        tmp.unlink()
        raise ValueError(f"{archive}: member {found[0]} has sha256 {digest.hexdigest()}, not the published {member_sha256}")
    os.replace(tmp, dest)
    return dest
