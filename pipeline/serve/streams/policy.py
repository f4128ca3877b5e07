"""The operator's stream policy: which sources and sinks an API client may ask for.

A client of ``POST /v1/streams`` names a source the server then opens with its own rights, so
without a policy ``file:///etc/passwd``, ``/etc/shadow`` or ``gopher://intranet`` would be
read by the server. URLs pass only with an allowed scheme and a host that is not a cloud metadata service or
link-local address (private LAN cameras are the point, so private ranges pass); cameras only when the
operator allows them; files only under an allowed root, after every symlink and ``..`` is
resolved; sinks only under the operator's output root. Every check runs before any actor.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from sensorium.pipeline.io.sinks import SINKS
from sensorium.pipeline.io.sources import STREAM_SCHEMES
from sensorium.pipeline.serve.streams.errors import OptionRefused, SinkRefused, SourceRefused
from sensorium.stages.config import coerce_fields

#: URL schemes the capture source can open at all (an operator may allow a subset)
OPENABLE_SCHEMES = tuple(s.removesuffix("://") for s in STREAM_SCHEMES)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
#: an option value that names a file: a separator, a home folder, or a bare ``name.ext``
_PATHLIKE = re.compile(r"[/\\]|^~|^[^/\\]*\.[A-Za-z][A-Za-z0-9]{0,7}$")
MAX_SOURCE_CHARS = 2048


#: cloud instance-metadata names (their addresses are link-local, refused by number too)
METADATA_HOSTS = ("metadata", "metadata.google.internal", "metadata.azure.com", "instance-data", "instance-data.ec2.internal")


def _metadata_host(host: str) -> bool:
    """Whether ``host`` is a cloud metadata service or a link-local, multicast or unspecified
    address: a URL a client should not make the server fetch (credentials live there)."""
    if host.lower().rstrip(".") in METADATA_HOSTS:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_link_local or ip.is_multicast or ip.is_unspecified


@dataclass(frozen=True)
class StreamPolicy:
    """schemes: URL schemes a stream may use. allow_cameras: local camera indexes allowed.
    file_roots: folders whose files (and subfolders) may be streamed; none: no files.
    output_root: the folder sinks write under (``<root>/<stream id>/``); None: no sinks,
    results over server-sent events only. max_streams: streams at once (more get 429).
    preview_fps: most annotated preview frames per second a stream encodes. results_buffer:
    results kept per stream for late or reconnecting SSE clients. stage_num_cpus: Ray CPUs per
    stage actor of a stream (a fixed share, so one stream cannot take the whole cluster).
    keepalive_s: an idle results or preview connection hears from the server this often."""

    schemes: tuple[str, ...] = ("rtsp", "rtsps", "http", "https")
    allow_cameras: bool = False
    file_roots: tuple[str, ...] = ()
    output_root: str | None = None
    max_streams: int = 8
    preview_fps: float = 5.0
    results_buffer: int = 256
    stage_num_cpus: float = 0.5
    keepalive_s: float = 15.0

    def __post_init__(self) -> None:
        coerce_fields(self, "streams")
        schemes = tuple(s.strip().lower().removesuffix("://") for s in self.schemes if s.strip())
        bad = [s for s in schemes if s not in OPENABLE_SCHEMES]
        if bad:
            raise ValueError(f"streams.schemes: {', '.join(bad)} cannot be opened as a stream; expected some of {', '.join(OPENABLE_SCHEMES)}")
        object.__setattr__(self, "schemes", schemes)
        object.__setattr__(self, "file_roots", tuple(os.path.realpath(Path(r).expanduser()) for r in self.file_roots))
        for root in self.file_roots:
            if not Path(root).is_dir():
                raise ValueError(f"streams.file_roots: {root} is not a folder")
        if self.output_root is not None:
            object.__setattr__(self, "output_root", os.path.realpath(Path(self.output_root).expanduser()))
        if self.max_streams < 1 or self.preview_fps <= 0 or self.results_buffer < 1 or self.stage_num_cpus < 0 or self.keepalive_s <= 0:
            raise ValueError("streams: expected max_streams >= 1, preview_fps > 0, results_buffer >= 1 and stage_num_cpus >= 0, keepalive_s > 0, "
                             f"got {self.max_streams}, {self.preview_fps}, {self.results_buffer}, {self.stage_num_cpus}, {self.keepalive_s}")

    def check_source(self, source: str | int) -> str | int:
        """The source to open (a camera index, a URL, or a file's real path); SourceRefused
        naming the rule when the policy does not allow it."""
        if isinstance(source, bool):
            raise SourceRefused(f"source: expected a camera index, URL or path, got {source!r}", status=400, code="bad_source")
        if isinstance(source, int) or (isinstance(source, str) and source.strip().isdigit()):
            if not self.allow_cameras:
                raise SourceRefused("source: cameras are not allowed on this server (operator: --allow-cameras)")
            return int(source)
        text = str(source).strip()
        if not text or len(text) > MAX_SOURCE_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise SourceRefused(f"source: expected a URL or path of 1..{MAX_SOURCE_CHARS} printable characters", status=400, code="bad_source")
        match = _SCHEME.match(text)
        if match and len(match.group(1)) > 1:  # one letter is a Windows drive, not a scheme
            return self._check_url(text, match.group(1).lower())
        return self._check_file(text)

    def _check_url(self, url: str, scheme: str) -> str:
        if scheme == "file":
            raise SourceRefused("source: file:// URLs are not accepted; name a path under an allowed file root (operator: --stream-file-root)")
        if scheme not in OPENABLE_SCHEMES:
            raise SourceRefused(f"source: unsupported URL scheme {scheme!r}; this server opens {', '.join(self.schemes) or 'none'}",
                                status=400, code="bad_source")
        if scheme not in self.schemes:
            raise SourceRefused(f"source: URL scheme {scheme!r} is not allowed on this server; allowed: {', '.join(self.schemes) or 'none'} "
                                "(operator: --stream-scheme)")
        try:
            host = urlsplit(url).hostname
        except ValueError as exc:  # a malformed netloc (unbalanced IPv6 brackets, bad port)
            raise SourceRefused(f"source: not a valid URL: {exc}", status=400, code="bad_source") from None
        if not host:
            raise SourceRefused(f"source: a {scheme} URL needs a host", status=400, code="bad_source")
        if _metadata_host(host):
            raise SourceRefused(f"source: host {host!r} is a link-local or cloud metadata address, never a camera")
        return url

    def _under_roots(self, text: str) -> str | None:
        """The real path of absolute ``text`` if it lies under a file root, else None."""
        real = os.path.realpath(Path(text))  # every symlink and '..' resolved: what would really be read
        return real if any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self.file_roots) else None

    def _check_file(self, text: str) -> str:
        if not self.file_roots:
            raise SourceRefused("source: file sources are not allowed on this server (operator: --stream-file-root)")
        if not Path(text).expanduser().is_absolute():
            raise SourceRefused(f"source: a file source must be an absolute path under an allowed root, got {text!r}", status=400, code="bad_source")
        real = self._under_roots(str(Path(text).expanduser()))
        if real is None:
            raise SourceRefused(f"source: {text!r} is outside the allowed file roots (symlinks and '..' resolved)")
        if not os.path.exists(real):
            raise SourceRefused(f"source: {text!r}: no such file or folder", status=400, code="bad_source")
        return real

    def check_options(self, options: Mapping[str, Any], where: str = "options") -> None:
        """Stage options that name a file (a gallery, weights, a model path) are files the server
        would read or create: each must be an absolute path under a file root."""
        for key, value in options.items():
            name = f"{where}.{key}"
            if isinstance(value, Mapping):
                self.check_options(value, name)
            elif isinstance(value, (list, tuple)):
                self.check_options({str(i): v for i, v in enumerate(value)}, name)
            elif isinstance(value, str) and _PATHLIKE.search(value.strip()):
                if not (Path(value.strip()).is_absolute() and self._under_roots(value.strip())):
                    raise OptionRefused(f"{name}: {value!r} names a file; stream options may name only absolute paths under "
                                        "the allowed file roots (operator: --stream-file-root)")

    def check_sinks(self, sinks: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        """The sinks, known and allowed (none without an output root)."""
        sinks = tuple(sinks)
        unknown = [s for s in sinks if s not in SINKS]
        if unknown:
            raise SinkRefused(f"sinks: unknown sink(s) {', '.join(map(repr, unknown))}; known: {', '.join(SINKS)}", status=400, code="bad_sink")
        if len(set(sinks)) != len(sinks):
            raise SinkRefused(f"sinks: each sink once, got {list(sinks)}", status=400, code="bad_sink")
        if sinks and self.output_root is None:
            raise SinkRefused("sinks: this server has no output root for stream sinks; results come over "
                              "GET /v1/streams/{id}/results (operator: --stream-output-root)")
        return sinks
