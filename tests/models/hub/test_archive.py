"""One member out of a zip, verified before and after: what ArcFace's ``buffalo_l.zip`` needs."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from sensorium.models.hub import weights as w
from sensorium.models.hub.archive import extract_member
from sensorium.models.hub.weights import Url, WeightsEntry, get_weights, register_weights, resolve

MODEL = b"onnx bytes of the model" * 100


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_member_is_written_and_verified_and_only_it(tmp_path):
    archive = _zip(tmp_path / "buffalo_l.zip", {"buffalo_l/w600k_r50.onnx": MODEL, "buffalo_l/det_10g.onnx": b"other"})
    dest = extract_member(archive, "w600k_r50.onnx", tmp_path / "cache" / "w600k_r50.onnx",
                          archive_sha256=_sha(archive.read_bytes()), member_sha256=_sha(MODEL))
    assert dest.read_bytes() == MODEL and sorted(p.name for p in dest.parent.iterdir()) == ["w600k_r50.onnx"]


@pytest.mark.parametrize("kwargs, message", [
    ({"archive_sha256": "0" * 64}, "is not the published"),
    ({"member_sha256": "0" * 64}, "not the published"),
    ({"member": "w600k_mbf.onnx"}, "expected one member 'w600k_mbf.onnx', found 0 among w600k_r50.onnx"),
])
def test_a_wrong_archive_or_member_is_refused_and_leaves_nothing(tmp_path, kwargs, message):
    archive = _zip(tmp_path / "a.zip", {"w600k_r50.onnx": MODEL})
    member = kwargs.pop("member", "w600k_r50.onnx")
    with pytest.raises(ValueError, match=message):
        extract_member(archive, member, tmp_path / "out" / "w600k_r50.onnx", **kwargs)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_file_that_is_not_a_zip_is_named(tmp_path):
    bad = tmp_path / "truncated.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ValueError, match="expected a zip archive holding w600k_r50.onnx"):
        extract_member(bad, "w600k_r50.onnx", tmp_path / "x.onnx")


def test_the_registry_says_which_member_arcface_is():
    url = next(s for s in get_weights("arcface-w600k-r50").sources if isinstance(s, Url))
    assert url.url.endswith("/buffalo_l.zip") and url.member == "w600k_r50.onnx"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    w._load_builtin_weights()  # into the real registry first: a module imported during a test registers only once
    monkeypatch.setattr(w, "_REGISTRY", dict(w._REGISTRY))  # test entries stay in this test
    monkeypatch.setenv("SENSORIUM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SENSORIUM_MODELS_MIRROR", raising=False)
    return tmp_path / "cache"


def test_a_pull_takes_the_member_out_of_the_verified_zip_and_keeps_only_it(tmp_path, loopback, cache):
    member = b"onnx bytes" * 500
    zipped = tmp_path / "pack.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("pack/other.onnx", b"not this one")
        zf.writestr("pack/w600k_r50.onnx", member)
    body = zipped.read_bytes()
    loopback.files["/pack.zip"] = (body, len(body))
    register_weights(WeightsEntry(name="zipped", filename="w600k_r50.onnx", sha256=None, license="t", description="t",
                                  sources=(Url(loopback.base + "/pack.zip", member="w600k_r50.onnx",
                                               archive_sha256=hashlib.sha256(body).hexdigest()),)))
    with pytest.raises(w.WeightsNotFoundError, match="pack.zip, member w600k_r50.onnx"):
        resolve("zipped")  # offline: names the zip and the member
    path = resolve("zipped", allow_download=True)
    assert path.read_bytes() == member
    assert w.recorded_sha256(path) == hashlib.sha256(member).hexdigest()  # trust on first use, of the member
    assert sorted(p.name for p in cache.iterdir()) == ["w600k_r50.onnx", "w600k_r50.onnx" + w.RECORDED_SUFFIX]


def test_a_zip_whose_hash_is_not_the_published_one_leaves_nothing(tmp_path, loopback, cache):
    zipped = tmp_path / "pack.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("w600k_r50.onnx", b"swapped")
    body = zipped.read_bytes()
    loopback.files["/pack.zip"] = (body, len(body))
    register_weights(WeightsEntry(name="zipped", filename="w600k_r50.onnx", sha256=None, license="t", description="t",
                                  sources=(Url(loopback.base + "/pack.zip", member="w600k_r50.onnx", archive_sha256="0" * 64),)))
    with pytest.raises(w.WeightsNotFoundError, match="is not the published 0000"):
        resolve("zipped", allow_download=True)
    assert not cache.exists() or list(cache.iterdir()) == []
