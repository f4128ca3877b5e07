"""One member out of a zip, verified before and after: what ArcFace's ``buffalo_l.zip`` needs."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from sensorium.models.zoo.archive import extract_member
from sensorium.models.zoo.public_weights import ARCHIVES

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
    entry = ARCHIVES["arcface-w600k-r50"]
    assert entry.url.endswith("/buffalo_l.zip") and entry.member == "w600k_r50.onnx"
