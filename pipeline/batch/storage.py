"""Object-store inputs for batch jobs: ``s3://`` and ``gs://`` URIs (and any other scheme
``pyarrow.fs`` resolves, such as ``hdfs://``), listed and read through ``pyarrow.fs``, the
layer Ray Data itself reads through.

Credentials and endpoints come from the standard environment of each filesystem: for S3
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``~/.aws``,
``AWS_REGION``/``AWS_DEFAULT_REGION`` and ``AWS_ENDPOINT_URL`` (``AWS_ENDPOINT_URL_S3``
first) for an S3-compatible server such as MinIO; for GCS the application-default
credentials. Options given explicitly (``--storage-option endpoint_override=http://host:9000``)
go to the filesystem's constructor (``S3FileSystem``, ``GcsFileSystem``) and win over the
environment. The endpoint and region are resolved once, where the job is started, and travel
with the options to the workers; credentials found in the environment are looked up again by
each worker, as the AWS SDK does (on a cluster: the workers' environment, ``~/.aws`` or role).

Globs (``s3://bucket/photos/**/*.jpg``) are expanded by fsspec's glob over the pyarrow
filesystem (``ArrowFSWrapper``), so no s3fs or gcsfs is needed.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

log = logging.getLogger(__name__)

_GLOB_CHARS = "*?["


def is_remote(path: str) -> bool:
    """Whether ``path`` is a URI on an object store or remote filesystem (not a local path)."""
    scheme, sep, _ = str(path).partition("://")
    return bool(sep) and scheme.isidentifier() and scheme.lower() != "file"


def split_uri(uri: str) -> tuple[str, str]:
    """``"s3://bucket/key"`` → ``("s3", "bucket/key")``."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise ValueError(f"expected a URI such as s3://bucket/key, got {uri!r}")
    return scheme.lower(), rest


def resolve_options(scheme: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The filesystem options for ``scheme``: ``options`` over what the environment sets.

    For S3, ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` become ``endpoint_override`` (with
    ``scheme`` taken from the URL) and ``AWS_REGION``/``AWS_DEFAULT_REGION`` ``region``, so the
    workers see the same server as the process that started the job."""
    opts = dict(options or {})
    if scheme == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint and "endpoint_override" not in opts:
            opts["endpoint_override"] = endpoint
        ep = opts.get("endpoint_override")
        if isinstance(ep, str) and "://" in ep:  # Arrow wants the transport apart from host:port
            opts.setdefault("scheme", ep.partition("://")[0])
            opts["endpoint_override"] = ep.partition("://")[2].rstrip("/")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if region and "region" not in opts:
            opts["region"] = region
    return opts


def filesystem(scheme: str, opts: Mapping[str, Any]):
    """A ``pyarrow.fs`` S3 or GCS filesystem from ``resolve_options``'s options.

    Raises ValueError for options the filesystem does not know."""
    from pyarrow import fs as pafs

    cls = {"s3": pafs.S3FileSystem, "gs": pafs.GcsFileSystem, "gcs": pafs.GcsFileSystem}[scheme]
    try:
        return cls(**opts)
    except TypeError as exc:
        raise ValueError(f"{scheme}:// storage options {sorted(opts)}: {exc}") from None


class Storage:
    """Reads and lists objects by URI, one filesystem per scheme (built on first use, then
    reused: an S3 client keeps its connection pool). Picklable: it travels to Ray workers as
    the options resolved where it was made, so they reach the same endpoint and region."""

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = dict(options or {})
        self._resolved = {scheme: resolve_options(scheme, self.options) for scheme in ("s3", "gs", "gcs")}
        self._fs: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options, "resolved": self._resolved}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.options, self._resolved, self._fs = state["options"], state["resolved"], {}

    def fs(self, uri: str):
        """(filesystem, path inside it) for ``uri``."""
        scheme, path = split_uri(uri)
        if scheme not in ("s3", "gs", "gcs"):  # hdfs://, abfs://...: what the URI itself says
            if self.options:
                raise ValueError(f"storage options are supported for s3:// and gs://, not {scheme}://")
            from pyarrow import fs as pafs

            return pafs.FileSystem.from_uri(uri)
        if scheme not in self._fs:
            self._fs[scheme] = filesystem(scheme, self._resolved[scheme])
        return self._fs[scheme], path

    def read_bytes(self, uri: str) -> bytes:
        """The whole object. Raises FileNotFoundError for a missing key, OSError for the rest
        (access denied, a bucket that does not exist, the server unreachable)."""
        fs, path = self.fs(uri)
        with fs.open_input_stream(path) as f:
            return f.readall()

    def list(self, pattern: str, suffixes: set[str] | None = None) -> list[str]:
        """URIs under ``pattern``: a glob (``**`` crosses folders), a prefix read as a folder
        (recursive), or one object. Raises FileNotFoundError when a glob's bucket or fixed prefix
        does not exist, OSError when the store cannot be reached. Keeps names ending in ``suffixes`` (case-insensitive) when
        listing a glob or folder; one named object is kept whatever its name."""
        from fsspec.implementations.arrow import ArrowFSWrapper
        from pyarrow import fs as pafs

        scheme, _ = split_uri(pattern)
        fs, path = self.fs(pattern)
        if any(ch in path for ch in _GLOB_CHARS):
            # fsspec's glob answers [] for a missing bucket and an unreachable server alike: ask first
            root = path[: min(path.index(ch) for ch in _GLOB_CHARS if ch in path)].rsplit("/", 1)[0]
            if fs.get_file_info(root).type == pafs.FileType.NotFound:
                raise FileNotFoundError(f"{scheme}://{root}: no such bucket or prefix")
            found = [p for p in ArrowFSWrapper(fs).glob(path) if not p.endswith("/")]
            listed = True
        else:
            info = fs.get_file_info(path)
            if info.type == pafs.FileType.Directory:
                selected = fs.get_file_info(pafs.FileSelector(path.rstrip("/"), recursive=True))
                found = [i.path for i in selected if i.type == pafs.FileType.File]
                listed = True
            else:  # a file, or nothing there: then it fails by name in the job
                found, listed = [path], False
        if listed and suffixes is not None:
            found = [p for p in found if os.path.splitext(p)[1].lower() in suffixes]
        log.info("%s: %d objects", pattern, len(found))
        return [f"{scheme}://{p}" for p in found]
