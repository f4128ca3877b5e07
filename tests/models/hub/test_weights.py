"""The weights registry on real files: the shared YuNet weights, fake packages and file:// URLs (no network)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from contextlib import nullcontext as does_not_raise
from pathlib import Path

import onnx
import pytest

from sensorium.models.hub import weights as w
from sensorium.models.hub.weights import (LocalPath, PackageFile, Url, UnknownWeightsError, WeightsChecksumError, WeightsEntry,
                                      WeightsNotFoundError, get_weights, list_weights, register_weights, resolve, status)

FRM_INSTALLED = importlib.util.find_spec("face_recognition_models") is not None


@pytest.fixture(autouse=True)
def registry(monkeypatch):
    """Entries registered by a test vanish after it."""
    w._load_builtin_weights()  # into the real registry first: a module imported during a test registers only once
    monkeypatch.setattr(w, "_REGISTRY", dict(w._REGISTRY))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache of the test's own, through SENSORIUM_CACHE: the user's ~/.cache is never touched."""
    path = tmp_path / "cache"
    monkeypatch.setenv("SENSORIUM_CACHE", str(path))
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(name: str, *sources, sha256: str | None = None, filename: str = "w.bin") -> WeightsEntry:
    return WeightsEntry(name=name, filename=filename, sha256=sha256, sources=tuple(sources), license="MIT", description="test")


@pytest.mark.parametrize("name", ["yunet_s", "yunet_n"])
def test_registered_yunet_weights_match_the_real_files(name, data_dir, cache):
    path = resolve(name)
    assert path.resolve() == data_dir / "weights" / f"{name}_640_640.onnx"  # data_dir is resolved; the data folder may be a link
    entry = get_weights(name)
    assert entry.sha256 == _sha(path.read_bytes())
    model = onnx.load(str(path))  # the contract says what the file is
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [entry.opset]
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, len(entry.mean), *entry.input_size] and entry.channel_order == "BGR" and entry.license == "Apache-2.0"
    assert any(isinstance(s, Url) and s.url.startswith("https://") for s in entry.sources)
    present, found, detail = status(name)
    assert present and found.resolve() == path.resolve() and detail == "found in SENSORIUM_DATA; sha256 verified"


@pytest.mark.skipif(FRM_INSTALLED, reason="face_recognition_models is installed here")
def test_dlib_weights_list_as_missing_with_an_install_hint(cache):
    st = status("dlib_face_recognition_resnet_v1")
    assert not st.present and st.path is None and st.verified is None
    assert "pip install face-recognition-models" in st.detail and str(cache) in st.detail
    with pytest.raises(WeightsNotFoundError) as exc:
        resolve("dlib_face_recognition_resnet_v1")
    message = str(exc.value)
    for part in ("dlib_face_recognition_resnet_model_v1.dat", f"cache: {cache / 'dlib_face_recognition_resnet_model_v1.dat'}",
                 "package face_recognition_models: not installed", "pip install face-recognition-models"):
        assert part in message, message


def test_names_are_unique_and_unknown_names_list_the_known_ones():
    entry = _entry("unique", LocalPath("/nowhere/w.bin"))
    assert register_weights(entry) is entry and get_weights("unique") is entry
    assert [e for e in list_weights() if e.name == "unique"] == [entry]
    with pytest.raises(ValueError, match="'unique' are already registered"):
        register_weights(_entry("unique", LocalPath("/elsewhere/w.bin")))
    with pytest.raises(UnknownWeightsError, match="unknown weights 'nope': expected one of .*yunet_s") as exc:
        get_weights("nope")
    assert isinstance(exc.value, KeyError) and str(exc.value).startswith("unknown")


def test_cache_is_looked_in_first(data_dir, cache):
    cache.mkdir()
    cached = cache / "yunet_n_640_640.onnx"
    cached.write_bytes((data_dir / "weights" / "yunet_n_640_640.onnx").read_bytes())
    assert resolve("yunet_n") == cached
    assert status("yunet_n").source == "cache"
    other = cache.parent / "other"
    assert resolve("yunet_n", cache_dir=other).resolve() == data_dir / "weights" / "yunet_n_640_640.onnx"  # explicit dir wins over the env


def test_checksum_mismatch_names_file_expected_and_got(tmp_path, cache):
    bad = tmp_path / "w.bin"
    bad.write_bytes(b"another version")
    expected = _sha(b"the right bytes")
    register_weights(_entry("mismatch", LocalPath(str(bad)), sha256=expected))
    with pytest.raises(WeightsChecksumError) as exc:
        resolve("mismatch")
    assert isinstance(exc.value, ValueError)
    assert str(bad) in str(exc.value) and expected in str(exc.value) and _sha(b"another version") in str(exc.value)
    st = status("mismatch")
    assert (st.present, st.path, st.verified) == (False, bad, False) and expected in st.detail


def test_relative_local_paths_are_under_sensorium_data(tmp_path, monkeypatch, cache):
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "sub" / "w.bin").write_bytes(b"weights")
    monkeypatch.setenv("SENSORIUM_DATA", str(tmp_path / "data"))
    register_weights(_entry("rel", LocalPath("sub/w.bin"), sha256=_sha(b"weights")))
    assert resolve("rel") == tmp_path / "data" / "sub" / "w.bin"


def test_package_files_are_found_without_importing_the_package(tmp_path, monkeypatch, cache):
    pkg = tmp_path / "site" / "heavy_weights_pkg"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('imported')\n")  # importing it would fail the test
    (pkg / "models" / "w.bin").write_bytes(b"packaged")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    register_weights(_entry("packaged", PackageFile("heavy_weights_pkg", "models/w.bin"), sha256=_sha(b"packaged")))
    assert resolve("packaged") == pkg / "models" / "w.bin"
    assert status("packaged").source == "package heavy_weights_pkg"
    assert "heavy_weights_pkg" not in sys.modules
    register_weights(_entry("packaged_missing", PackageFile("heavy_weights_pkg", "models/other.bin")))
    with pytest.raises(WeightsNotFoundError, match="installed, but models/other.bin is not in it"):
        resolve("packaged_missing")


def test_urls_are_fetched_only_when_allowed(tmp_path, cache):
    remote = tmp_path / "remote.bin"
    remote.write_bytes(b"downloadable")
    register_weights(_entry("remote", LocalPath(str(tmp_path / "absent.bin")), Url(remote.as_uri()), sha256=_sha(b"downloadable")))
    with pytest.raises(WeightsNotFoundError) as exc:  # offline by default: the file:// URL would have worked
        resolve("remote")
    message = str(exc.value)
    for part in (f"cache: {cache / 'w.bin'} (no such file)", f"local: {tmp_path / 'absent.bin'} (no such file)",
                 f"put the file at {cache / 'w.bin'}", remote.as_uri(), "sensorium models pull remote"):
        assert part in message, message
    assert not cache.exists()
    path = resolve("remote", allow_download=True)
    assert path == cache / "w.bin" and path.read_bytes() == b"downloadable"
    assert resolve("remote") == path and status("remote").source == "cache"  # then a cache hit


def test_a_download_with_the_wrong_checksum_is_not_kept(tmp_path, cache):
    remote = tmp_path / "remote.bin"
    remote.write_bytes(b"tampered")
    register_weights(_entry("tampered", Url(remote.as_uri()), sha256=_sha(b"original")))
    with pytest.raises(WeightsNotFoundError, match="download failed: .*has sha256"):
        resolve("tampered", allow_download=True)
    assert list(cache.iterdir()) == []  # neither the file nor a .part is left behind


def test_unpinned_sha256_means_not_verified(tmp_path, cache):
    (tmp_path / "w.bin").write_bytes(b"anything")
    register_weights(_entry("unpinned", LocalPath(str(tmp_path / "w.bin"))))
    assert resolve("unpinned") == tmp_path / "w.bin"
    st = status("unpinned")
    assert st.present and st.verified is None and "not verified" in st.detail


@pytest.mark.parametrize("kwargs, expectation", [
    ({}, does_not_raise()),
    ({"sha256": "AB" * 32}, pytest.raises(ValueError, match="64 lowercase hex")),
    ({"sha256": "ab12"}, pytest.raises(ValueError, match="64 lowercase hex")),
    ({"filename": "sub/w.bin"}, pytest.raises(ValueError, match="bare file name")),
    ({"sources": ()}, pytest.raises(ValueError, match="expected sources")),
    ({"sources": ("/path/w.bin",)}, pytest.raises(ValueError, match="expected sources")),
    ({"mean": (0.5, 0.5, 0.5)}, pytest.raises(ValueError, match="mean and std of the same length")),
    ({"mean": (0.5,), "std": (0.0,)}, pytest.raises(ValueError, match="non-zero std")),
    ({"input_size": (224,)}, pytest.raises(ValueError, match=r"input_size \(height, width\)")),
    ({"channel_order": "RGBA"}, pytest.raises(ValueError, match="channel_order")),
    ({"format": "pt"}, pytest.raises(ValueError, match="format")),
])
def test_entry_validation(kwargs, expectation):
    base = dict(name="x", filename="w.bin", sha256=None, sources=(LocalPath("w.bin"),), license="MIT", description="d")
    with expectation:
        WeightsEntry(**{**base, **kwargs})


_IMPORT_PROBE = """
import json, os, sys
markers = (os.environ["SENSORIUM_DATA"], os.environ["SENSORIUM_CACHE"], "yunet", "face_recognition_models")
seen = []
sys.addaudithook(lambda event, args: seen.append((event, str(args[0]))) if event in ("open", "os.listdir", "os.scandir")
                 and args and any(m in str(args[0]) for m in markers)
                 and ".dist-info" not in str(args[0]) else None)  # package metadata scans (entry points) are not weights
real_stat = os.stat
def stat(path, *a, **k):
    if any(m in str(path) for m in markers):
        seen.append(("stat", str(path)))
    return real_stat(path, *a, **k)
os.stat = stat
import importlib.util
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: (seen.append(("find_spec", name)) if any(m in name for m in markers)
                                              else None) or real_find_spec(name, *a)
import sensorium.models.hub.weights as w
assert len(w.list_weights()) >= 3
print(json.dumps(seen))
"""


def test_registration_touches_no_file_at_import(tmp_path):
    env = {**os.environ, "SENSORIUM_DATA": str(tmp_path / "data-marker"), "SENSORIUM_CACHE": str(tmp_path / "cache-marker")}
    out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_shipped_weights_are_listed_without_importing_their_modules_first():
    """``sensorium models list`` in a fresh process must show the weights that ship beside their
    architectures (registered when those modules import), not only the ones in weights.py."""
    code = "from sensorium.models.hub.weights import list_weights; print(' '.join(w.name for w in list_weights()))"
    names = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300).stdout.split()
    assert {"detr_spp_shapes", "clip_icons", "yunet_s"} <= set(names), names
    assert len(names) == len(set(names))


# --- downloads from a real HTTP server on loopback -----------------------------------------------

@pytest.fixture
def http_files(loopback):
    """(``files[path] = (body, announced Content-Length)``, base URL) of a loopback HTTP server."""
    return loopback.files, loopback.base


def _served(files, base, path, body, length=None) -> Url:
    files[path] = (body, len(body) if length is None else length)
    return Url(base + path)


def test_a_pull_verifies_the_file_and_reports_progress(http_files, cache):
    files, base = http_files
    body = os.urandom(3 << 20)
    register_weights(_entry("pulled", _served(files, base, "/w.bin", body), sha256=_sha(body)))
    seen = []
    path = resolve("pulled", allow_download=True, progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == body and seen[-1] == (len(body), len(body)) and len(seen) >= 3
    assert sorted(p.name for p in cache.iterdir()) == ["w.bin"]  # no .part left, no record for a pinned file


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_bad_cached_file_is_refused_and_fetched_again_only_when_allowed(http_files, cache, damage):
    files, base = http_files
    body = b"the real weights" * 1000
    register_weights(_entry("cached", _served(files, base, "/w.bin", body), sha256=_sha(body)))
    cache.mkdir()
    (cache / "w.bin").write_bytes(body[:-1] + b"X" if damage == "corrupt" else body[:100])
    with pytest.raises(WeightsChecksumError, match="sensorium models pull cached"):
        resolve("cached")
    assert not status("cached").present
    assert resolve("cached", allow_download=True).read_bytes() == body


@pytest.mark.parametrize("served, expectation", [
    ("whole", does_not_raise()),
    ("broke off", pytest.raises(WeightsNotFoundError, match="truncated")),
    ("another file", pytest.raises(WeightsNotFoundError, match="expected e632da11")),
])
def test_a_pth_is_checked_by_the_hash_prefix_in_its_name(http_files, cache, served, expectation):
    files, base = http_files
    body = b"x" * 5000
    while not _sha(body).startswith("e632da11"[:2]):  # a body whose sha256 starts like the name says (2 hex: quick)
        body += b"y"
    prefix = _sha(body)[:8] if served != "another file" else "e632da11"
    length = len(body) + 100 if served == "broke off" else None
    register_weights(WeightsEntry(name="fb", filename=f"detr-r50-{prefix}.pth", sha256=None, sha256_prefix=prefix,
                                  sources=(_served(files, base, "/fb.pth", body, length),), license="Apache-2.0", description="t"))
    with expectation:
        assert resolve("fb", allow_download=True).read_bytes() == body
    if served != "whole":
        assert list(cache.iterdir()) == []


def test_an_unpublished_hash_is_recorded_on_first_pull_and_checked_after(http_files, cache):
    files, base = http_files
    register_weights(_entry("tofu", _served(files, base, "/t.bin", b"first pull")))
    path = resolve("tofu", allow_download=True)
    assert w.recorded_sha256(path) == _sha(b"first pull")
    assert "trust on first use" in w.hash_rule(w.get_weights("tofu"))
    path.write_bytes(b"swapped later")
    with pytest.raises(WeightsChecksumError, match=_sha(b"first pull")):
        resolve("tofu")


def test_non_commercial_weights_download_only_when_the_licence_is_accepted(http_files, cache):
    files, base = http_files
    register_weights(WeightsEntry(name="nc", filename="nc.onnx", sha256=_sha(b"nc"), sources=(_served(files, base, "/nc", b"nc"),),
                                  license="non-commercial", description="t", commercial=False))
    with pytest.raises(w.LicenseNotAcceptedError, match="--accept-license"):
        resolve("nc", allow_download=True)
    assert not cache.exists()
    assert resolve("nc", allow_download=True, accept_license=True).read_bytes() == b"nc"

