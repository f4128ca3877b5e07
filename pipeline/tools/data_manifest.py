"""The test data's manifest (``data/manifest.toml``): each file under ``SENSORIUM_DATA`` with its
public source, sha256, size and licence; checking a local copy against it; fetching what is
missing.

The tests read real photos, video, stereo and RGB-D frames, screenshots and weights from
``SENSORIUM_DATA``; a machine without that folder gets it with ``sensorium data fetch`` (``make
data``). Every file is verified before it is put in place (:func:`~sensorium.models.hub.download.download`),
so an interrupted fetch leaves whole files or none, and a rerun fetches only what is still
missing or wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sensorium.models.hub.download import DATA_MIRROR_ENV, ChecksumError, check_sha256, download, mirrored

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MANIFEST = REPO / "data" / "manifest.toml"
#: notes on the data folder, not data: never listed, never required
NOT_DATA = frozenset({"README.md"})


def is_data(rel: str) -> bool:
    """Whether ``rel`` (relative to the data folder) is data: not a note, not hidden (what an
    interrupted fetch may leave: ``.fetch/``, ``.NAME.*.part``)."""
    return rel not in NOT_DATA and not any(part.startswith(".") for part in rel.split("/"))
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class DataFile:
    """One file: ``path`` under the data folder (POSIX, relative), its bytes' ``size`` and
    ``sha256``, its ``source``'s name, and ``origin``: the path below the source's base URL or
    the archive member it is taken from."""

    path: str
    size: int
    sha256: str
    source: str
    origin: str


@dataclass(frozen=True)
class DataSource:
    """A public origin: files at ``base`` + origin, or members of the zip ``archive`` (its own
    sha256 checked first), or ``unavailable`` (why no public URL exists)."""

    name: str
    license: str
    checked: str
    about: str = ""
    base: str | None = None
    archive: str | None = None
    archive_sha256: str | None = None
    unavailable: str | None = None
    files: tuple[DataFile, ...] = field(default=())

    def url(self, f: DataFile) -> str | None:
        """Where ``f`` itself is downloaded from (None: from the archive, or nowhere)."""
        return self.base + f.origin if self.base else None


@dataclass(frozen=True)
class Manifest:
    sources: tuple[DataSource, ...]

    @property
    def files(self) -> dict[str, DataFile]:
        """path → file, for every file of every source."""
        return {f.path: f for s in self.sources for f in s.files}

    def source(self, f: DataFile) -> DataSource:
        return next(s for s in self.sources if s.name == f.source)


def _file(source: str, raw: dict, key: str) -> DataFile:
    where = f"source {source!r}, file {raw.get('path')!r}"
    path = raw.get("path")
    if not isinstance(path, str) or not path or PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts \
            or "\\" in path:
        raise ValueError(f"data manifest: {where}: expected a relative POSIX path inside the data folder")
    if not isinstance(raw.get("sha256"), str) or not _SHA256.fullmatch(raw["sha256"]):
        raise ValueError(f"data manifest: {where}: expected sha256 as 64 lowercase hex digits, got {raw.get('sha256')!r}")
    if not isinstance(raw.get("size"), int) or raw["size"] <= 0:
        raise ValueError(f"data manifest: {where}: expected size as a positive number of bytes, got {raw.get('size')!r}")
    origin = raw.get(key, path)
    if not isinstance(origin, str) or not origin:
        raise ValueError(f"data manifest: {where}: expected {key!r} as a non-empty string, got {origin!r}")
    return DataFile(path=path, size=raw["size"], sha256=raw["sha256"], source=source, origin=origin)


def _source(name: str, raw: dict) -> DataSource:
    kinds = [k for k in ("base", "archive", "unavailable") if raw.get(k)]
    if len(kinds) != 1:
        raise ValueError(f"data manifest: source {name!r}: expected exactly one of base, archive, unavailable; got {kinds or 'none'}")
    if "archive" in kinds and not _SHA256.fullmatch(str(raw.get("archive_sha256", ""))):
        raise ValueError(f"data manifest: source {name!r}: an archive needs its archive_sha256 (64 hex digits)")
    if "archive" in kinds and not str(raw["archive"]).endswith((".zip", ".whl")):
        raise ValueError(f"data manifest: source {name!r}: expected a .zip or .whl archive (members are read with zipfile), "
                         f"got {raw['archive']!r}")
    for key in ("license", "checked"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ValueError(f"data manifest: source {name!r}: expected {key!r} (who may use it; how its hashes were compared)")
    files = tuple(_file(name, f, "member" if "archive" in kinds else "from") for f in raw.get("files", []))
    known = ("about", "base", "archive", "archive_sha256", "unavailable", "license", "checked")
    return DataSource(name=name, files=files, **{k: raw[k] for k in known if k in raw})


def load_manifest(path: str | Path = DEFAULT_MANIFEST) -> Manifest:
    """Parse and validate the manifest; ValueError names the source and file that is wrong."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"data manifest {path}: expected a readable TOML file ({exc})") from None
    sources = tuple(_source(name, s) for name, s in raw.get("source", {}).items())
    seen: set[str] = set()
    for f in (f for s in sources for f in s.files):
        if f.path in seen:
            raise ValueError(f"data manifest {path}: {f.path} is listed twice")
        seen.add(f.path)
    return Manifest(sources)


def problem(root: Path, f: DataFile, *, hashes: bool) -> str | None:
    """Why the local copy of ``f`` is not usable (missing, wrong size, wrong sha256), or None."""
    local = root / f.path
    if not local.is_file():
        return f"{f.path}: missing"
    size = local.stat().st_size
    if size != f.size:
        return f"{f.path}: {size} bytes, expected {f.size} (truncated or another version)"
    if hashes:
        try:
            check_sha256(local, sha256=f.sha256, what=f.path)
        except ChecksumError as exc:
            return str(exc)
    return None


def problems(manifest: Manifest, root: Path, *, hashes: bool = False) -> list[str]:
    """One line per listed file that is not usable in ``root`` (sizes only unless ``hashes``)."""
    return [p for f in manifest.files.values() if (p := problem(root, f, hashes=hashes))]


def uncovered(manifest: Manifest, root: Path, paths: Iterable[str | Path]) -> list[str]:
    """The ``paths`` under ``root`` the manifest does not cover, relative to ``root``: a file
    must be listed; a folder (read as a whole: listed, globbed, handed to a command) must hold
    only listed files. Paths outside ``root`` or that do not exist are not data and pass."""
    listed = manifest.files
    root = Path(os.path.abspath(root))
    out = []
    for p in sorted({os.path.abspath(p) for p in paths}):
        rel = Path(p).relative_to(root).as_posix() if Path(p).is_relative_to(root) else None
        if rel is None or not os.path.exists(p):
            continue
        if os.path.isfile(p):
            if rel not in listed and is_data(rel):
                out.append(rel)
            continue
        for child in sorted(Path(p).rglob("*")):
            crel = child.relative_to(root).as_posix()
            if child.is_file() and crel not in listed and is_data(crel):
                out.append(crel)
    return sorted(set(out))


Report = Callable[[str, str], None]  # (path, "fetched" or "failed"): progress, one line per file


@dataclass
class FetchResult:
    present: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # path → why, with the URL and what to do


def fetch(manifest: Manifest, root: Path, *, only: Iterable[str] = (), report: Report | None = None) -> FetchResult:
    """Download every listed file that is missing or wrong in ``root`` (those under the ``only``
    prefixes, when given), each verified by size and sha256 before it is put in place. Files
    already right are left alone, so a rerun after an interruption finishes the job. A file that
    cannot be fetched is a line in ``failed``; the others still are."""
    result = FetchResult()
    say = report or (lambda path, what: None)
    prefixes = tuple(only)
    for source in manifest.sources:
        todo = []
        for f in source.files:
            if prefixes and not f.path.startswith(prefixes):
                continue
            if problem(root, f, hashes=True) is None:
                result.present.append(f.path)
            else:
                todo.append(f)
        if todo:
            _fetch_source(source, todo, root, result, say)
    return result


def _fetch_source(source: DataSource, todo: list[DataFile], root: Path, result: FetchResult, say: Report) -> None:
    left = []
    for f in todo:  # a mirror (SENSORIUM_DATA_MIRROR/PATH) first, then the file's own URL
        urls = mirrored(DATA_MIRROR_ENV, f.path) + ([u] if (u := source.url(f)) else [])
        errors = _try_urls(f, urls, root)
        if errors is None:
            result.fetched.append(f.path)
            say(f.path, "fetched")
        elif source.archive is None:
            why = (f"no public URL ({source.unavailable}); put a copy at {root / f.path}" if not urls else
                   "; ".join(errors) + f". Download {urls[-1]} yourself and put it at {root / f.path}")
            result.failed[f.path] = why
            say(f.path, "failed")
        else:
            left.append(f)
    if left:
        _fetch_members(source, left, root, result, say)


def _try_urls(f: DataFile, urls: list[str], root: Path) -> list[str] | None:
    """None once one URL gave the right bytes at ``root/f.path``; else each URL's error."""
    errors = []
    for url in urls:
        try:
            download(url, root / f.path, size=f.size, check=lambda tmp: check_sha256(tmp, sha256=f.sha256, size=f.size, what=url))
            return None
        except (OSError, ChecksumError) as exc:
            errors.append(f"{url}: {exc}")
    return errors


def _fetch_members(source: DataSource, files: list[DataFile], root: Path, result: FetchResult, say: Report) -> None:
    """Download the source's archive once (its sha256 checked), take the files out of it, each
    checked before it is renamed into place, and delete the archive."""
    assert source.archive is not None and source.archive_sha256 is not None
    archive = root / ".fetch" / PurePosixPath(source.archive).name
    try:
        download(source.archive, archive, check=lambda tmp: check_sha256(tmp, sha256=source.archive_sha256, what=source.archive))
        with zipfile.ZipFile(archive) as zf:
            for f in files:
                _extract(zf, f, root, result, say, source.archive)
    except (OSError, ChecksumError, zipfile.BadZipFile) as exc:
        for f in files:
            if f.path not in result.fetched:
                result.failed[f.path] = (f"{source.archive}: {exc}. Download it yourself, take out {f.origin} "
                                         f"and put it at {root / f.path}")
                say(f.path, "failed")
    finally:
        archive.unlink(missing_ok=True)
        if archive.parent.is_dir() and not any(archive.parent.iterdir()):
            archive.parent.rmdir()


def _extract(zf: zipfile.ZipFile, f: DataFile, root: Path, result: FetchResult, say: Report, archive: str) -> None:
    dest = root / f.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with zf.open(f.origin) as src, tmp.open("wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                out.write(chunk)
        check_sha256(tmp, sha256=f.sha256, size=f.size, what=f"{archive}!{f.origin}")
        os.replace(tmp, dest)
        result.fetched.append(f.path)
        say(f.path, "fetched")
    except KeyError:
        result.failed[f.path] = f"{archive} holds no {f.origin}"
        say(f.path, "failed")
    except ChecksumError as exc:
        result.failed[f.path] = str(exc)
        say(f.path, "failed")
    finally:
        tmp.unlink(missing_ok=True)
