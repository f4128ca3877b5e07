"""The data manifest's reader, its local check and its fetch, on small manifests of the test's own
served by a real HTTP server on loopback (no network): plain files, members of a zip, a mirror,
and every way a file can fail to arrive."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from contextlib import nullcontext as does_not_raise
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sensorium.pipeline.tools.data_manifest import fetch, load_manifest, problems, uncovered


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def www(loopback):
    """(serve(name, bytes), base URL ending in /, paths requested) of a loopback HTTP server."""
    return (lambda name, data: loopback.put("/" + name, data)), loopback.base + "/", loopback.requested


def _entry(path: str, data: bytes, origin: str | None = None, key: str = "from") -> dict:
    return {"path": path, key: origin or path, "size": len(data), "sha256": _sha(data)}


def _write(tmp_path: Path, sources: dict[str, dict]) -> Path:
    """A manifest file with these sources (TOML written from plain values)."""
    lines = []
    for name, s in sources.items():
        lines.append(f"[source.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in s.items() if k != "files"]
        lines.append("files = [")
        lines += ["  { " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in f.items()) + " }," for f in s.get("files", [])]
        lines.append("]")
    path = tmp_path / "manifest.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _source(base: str, *files: dict, **kw) -> dict:
    return {"base": base, "license": "MIT", "checked": "made by the test", "files": list(files), **kw}


GOOD = {"path": "a/b.jpg", "from": "b.jpg", "size": 3, "sha256": "0" * 64}


@pytest.mark.parametrize("source, expectation", [
    ({"base": "https://x/", "files": [GOOD]}, does_not_raise()),
    ({"base": "https://x/", "files": [{**GOOD, "path": "../b.jpg"}]}, pytest.raises(ValueError, match="relative POSIX path")),
    ({"base": "https://x/", "files": [{**GOOD, "path": "/abs/b.jpg"}]}, pytest.raises(ValueError, match="relative POSIX path")),
    ({"base": "https://x/", "files": [{**GOOD, "sha256": "ABC"}]}, pytest.raises(ValueError, match="64 lowercase hex digits, got 'ABC'")),
    ({"base": "https://x/", "files": [{**GOOD, "size": 0}]}, pytest.raises(ValueError, match="positive number of bytes, got 0")),
    ({"base": "https://x/", "files": [GOOD, GOOD]}, pytest.raises(ValueError, match="a/b.jpg is listed twice")),
    ({"base": "https://x/", "archive": "https://y.zip", "files": [GOOD]}, pytest.raises(ValueError, match="exactly one of")),
    ({"files": [GOOD]}, pytest.raises(ValueError, match="exactly one of base, archive, unavailable; got none")),
    ({"archive": "https://y.zip", "files": [GOOD]}, pytest.raises(ValueError, match="archive_sha256")),
    ({"archive": "https://y.tar.gz", "archive_sha256": "0" * 64, "files": [GOOD]}, pytest.raises(ValueError, match="a .zip or .whl")),
    ({"base": "https://x/", "license": "", "files": [GOOD]}, pytest.raises(ValueError, match="'license'")),
])
def test_the_reader_names_what_is_wrong(tmp_path, source, expectation):
    path = _write(tmp_path, {"s": {"license": "MIT", "checked": "t", **source}})
    with expectation:
        assert load_manifest(path).files["a/b.jpg"].origin == "b.jpg"


def test_fetch_gets_what_is_missing_or_wrong_keeps_what_is_right_and_a_rerun_asks_for_nothing(tmp_path, www):
    serve, base, requested = www
    one, two, three = b"one" * 100, b"two" * 100, b"three" * 100
    for name, data in (("one.bin", one), ("two.bin", two), ("sub/three.bin", three)):
        serve(name, data)
    manifest = load_manifest(_write(tmp_path, {"s": _source(base, _entry("a/one.bin", one, "one.bin"), _entry("a/two.bin", two, "two.bin"),
                                                            _entry("b/three.bin", three, "sub/three.bin"))}))
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "a" / "one.bin").write_bytes(one)
    (root / "a" / "two.bin").write_bytes(b"TWO" * 100)  # same size, other bytes
    assert problems(manifest, root) == ["b/three.bin: missing"]  # sizes only: the quick check before a test session
    assert [p.split(":")[0] for p in problems(manifest, root, hashes=True)] == ["a/two.bin", "b/three.bin"]
    result = fetch(manifest, root)
    assert (result.present, sorted(result.fetched), result.failed) == (["a/one.bin"], ["a/two.bin", "b/three.bin"], {})
    assert (root / "a" / "two.bin").read_bytes() == two and (root / "b" / "three.bin").read_bytes() == three
    assert sorted(requested) == ["/sub/three.bin", "/two.bin"]
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["one.bin", "three.bin", "two.bin"]  # no .part left
    again = fetch(manifest, root)
    assert len(again.present) == 3 and len(requested) == 2


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("archive_ok", [True, False])
def test_members_come_out_of_an_archive_only_once_its_sha256_is_right(tmp_path, www, archive_ok):
    serve, base, _ = www
    x, y = b"x" * 500, b"y" * 700
    wheel = _zip({"pkg/assets/x.jpg": x, "pkg/assets/y.jpg": y, "pkg/other.py": b"print()"})
    serve("pkg-1.0-py3-none-any.whl", wheel)
    source = {"archive": base + "pkg-1.0-py3-none-any.whl", "archive_sha256": _sha(wheel if archive_ok else b"another"),
              "license": "MIT", "checked": "t",
              "files": [_entry("photos/x.jpg", x, "pkg/assets/x.jpg", "member"), _entry("photos/y.jpg", y, "pkg/assets/y.jpg", "member")]}
    root = tmp_path / "data"
    result = fetch(load_manifest(_write(tmp_path, {"wheel": source})), root)
    if archive_ok:
        assert sorted(result.fetched) == ["photos/x.jpg", "photos/y.jpg"] and not result.failed
        assert (root / "photos" / "x.jpg").read_bytes() == x and (root / "photos" / "y.jpg").read_bytes() == y
    else:
        assert sorted(result.failed) == ["photos/x.jpg", "photos/y.jpg"] and not result.fetched
        why = result.failed["photos/x.jpg"]
        assert f"sha256 {_sha(wheel)}, expected {_sha(b'another')}" in why and "take out pkg/assets/x.jpg" in why
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == (["photos", "photos/x.jpg", "photos/y.jpg"] if archive_ok else [])


def test_a_file_served_with_other_bytes_is_refused_named_and_not_kept(tmp_path, www):
    serve, base, _ = www
    serve("b.jpg", b"served bytes")
    want = b"listed bytes"
    root = tmp_path / "data"
    result = fetch(load_manifest(_write(tmp_path, {"s": _source(base, _entry("a/b.jpg", want, "b.jpg"))})), root)
    why = result.failed["a/b.jpg"]
    assert f"{base}b.jpg" in why and f"sha256 {_sha(b'served bytes')}, expected {_sha(want)}" in why
    assert f"put it at {root / 'a' / 'b.jpg'}" in why
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_an_unreachable_source_is_reported_per_file_and_the_others_still_arrive(tmp_path, www):
    serve, base, _ = www
    serve("ok.bin", b"ok")
    closed = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)  # a port that was open and is closed
    dead = f"http://127.0.0.1:{closed.server_address[1]}/"
    closed.server_close()
    manifest = load_manifest(_write(tmp_path, {"dead": _source(dead, _entry("d/gone.bin", b"gone")),
                                               "live": _source(base, _entry("l/ok.bin", b"ok", "ok.bin")),
                                               "private": {"unavailable": "never published", "license": "t", "checked": "t",
                                                           "files": [_entry("p/own.bin", b"own")]}}))
    seen = []
    result = fetch(manifest, tmp_path / "data", report=lambda path, what: seen.append((path, what.split(":")[0])))
    assert result.fetched == ["l/ok.bin"] and sorted(result.failed) == ["d/gone.bin", "p/own.bin"]
    assert f"{dead}d/gone.bin" in result.failed["d/gone.bin"]
    assert result.failed["p/own.bin"].startswith("no public URL (never published); put a copy at")
    assert sorted(seen) == [("d/gone.bin", "failed"), ("l/ok.bin", "fetched"), ("p/own.bin", "failed")]


def test_a_mirror_is_tried_first_and_only_files_under_only_are_fetched(tmp_path, www, monkeypatch):
    serve, base, requested = www
    serve("gui/1.jpg", b"shot")
    monkeypatch.setenv("SENSORIUM_DATA_MIRROR", base)
    manifest = load_manifest(_write(tmp_path, {"s": _source("https://example.invalid/", _entry("gui/1.jpg", b"shot", "x/1.jpg"),
                                                            _entry("video/v.avi", b"video"))}))
    result = fetch(manifest, tmp_path / "data", only=["gui/"])
    assert result.fetched == ["gui/1.jpg"] and not result.failed and requested == ["/gui/1.jpg"]


def test_uncovered_names_unlisted_files_and_files_in_folders_read_whole(tmp_path):
    root = tmp_path / "data"
    for rel in ("a/listed.jpg", "a/unlisted.jpg", "b/listed.png", "README.md", "b/.listed.png.x1.part"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    manifest = load_manifest(_write(tmp_path, {"s": _source("https://x/", _entry("a/listed.jpg", b"x"), _entry("b/listed.png", b"x"))}))
    assert uncovered(manifest, root, [root / "a" / "listed.jpg", root / "b", root / "README.md"]) == []  # notes, fetch leftovers
    assert uncovered(manifest, root, [root / "a" / "unlisted.jpg"]) == ["a/unlisted.jpg"]
    assert uncovered(manifest, root, [root / "a", str(root)]) == ["a/unlisted.jpg"]  # a folder read whole, the data folder too
    assert uncovered(manifest, root, [root / "a" / "never-there.jpg", tmp_path / "elsewhere.jpg"]) == []
