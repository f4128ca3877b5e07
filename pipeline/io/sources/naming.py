"""Readable source ids from ``--source`` specs: what an operator sees in the summary, the JSONL
and the metrics should say which camera or file a row came from (``bus``, ``cam0``,
``10.0.0.5/stream1``), not its position on the command line (``src0``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

#: ``NAME=SPEC`` names a source explicitly; a name is a word (letters, digits, ``_.-``), so
#: URLs (``rtsp://h/p?a=b``) and paths (``a/b=c.mp4``) are never read as one
_EXPLICIT = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]{0,63})=(.+)$")


def split_source_name(spec: str) -> tuple[str | None, str]:
    """``"door=rtsp://cam/1"`` → ``("door", "rtsp://cam/1")``; a spec without a name → ``(None, spec)``.
    A spec that is an existing path keeps its ``=`` (``a=b.mp4`` on disk is a file, not a name)."""
    m = _EXPLICIT.match(spec.strip())
    if m is None or Path(spec).exists():
        return None, spec
    return m.group(1), m.group(2)


def source_name(spec: str) -> str:
    """The readable id of one spec: ``cam0`` for camera 0; ``host[:port]/path`` for a URL (no
    credentials, query or scheme); ``sample``/``sample-rgbd`` for the sample; the stem of a file
    (``video`` for ``clips/video.mp4``); a folder's or a glob's folder name."""
    text = str(spec).strip()
    if text.isdigit():
        return f"cam{int(text)}"
    if "://" in text:
        url = urlsplit(text)
        host = url.hostname or ""
        if url.port is not None:
            host = f"{host}:{url.port}"
        path = url.path.strip("/")
        return f"{host}/{path}" if path else host or text
    if text == "sample" or text.startswith("sample:"):
        return text.replace(":", "-")
    text = text.removeprefix("rgbd:")
    if any(c in text for c in "*?[") and not Path(text).exists():
        parts = [p for p in Path(text).parts if not any(c in p for c in "*?[")]
        return Path(*parts).name if parts else "images"
    path = Path(text)
    return (path.name if path.is_dir() else path.stem) or path.resolve().name or "source"


def source_names(specs: Sequence[str]) -> tuple[list[str], list[str]]:
    """(ids, specs without their ``NAME=`` prefix) for ``--source`` values in order: explicit
    names as given (a name given twice raises ValueError), derived ones made unique with
    ``-2``, ``-3``... (two ``video.mp4`` in different folders: ``video``, ``video-2``)."""
    split = [split_source_name(s) for s in specs]
    explicit = [n for n, _ in split if n]
    twice = sorted({n for n in explicit if explicit.count(n) > 1})
    if twice:
        raise ValueError(f"--source: name(s) {', '.join(twice)} given to more than one source")
    taken = set(explicit)
    ids = []
    for name, spec in split:
        if name is None:
            base = name = source_name(spec)
            k = 2
            while name in taken:
                name, k = f"{base}-{k}", k + 1
        taken.add(name)
        ids.append(name)
    return ids, [spec for _, spec in split]
