"""normalise_path: one spelling per image, local or on an object store."""

from __future__ import annotations

import os

import pytest

from sensorium.pipeline.batch.paths import normalise_path


@pytest.mark.parametrize(("given", "expected"), [
    ("s3://bucket/photos/a.jpg", "s3://bucket/photos/a.jpg"),
    ("S3://bucket//photos///a.jpg", "s3://bucket/photos/a.jpg"),
    ("s3://bucket/photos/./x/../a.jpg", "s3://bucket/photos/a.jpg"),
    ("s3://bucket/../../a.jpg", "s3://bucket/a.jpg"),  # never above the bucket
    ("gs://b/p/.", "gs://b/p"),
    ("GS://b", "gs://b"),
])
def test_object_uris(given, expected):
    assert normalise_path(given) == expected


def test_local_paths_are_absolute_with_their_folders_resolved(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.jpg").write_bytes(b"x")
    os.symlink(real, tmp_path / "alias")  # a folder reached through a link
    os.symlink(real / "a.jpg", real / "link.jpg")  # a link to a photo: its own item
    monkeypatch.chdir(tmp_path)
    a = str(real / "a.jpg")
    for spelling in ("real/a.jpg", "./real/a.jpg", "real//a.jpg", "real/../real/a.jpg", a, "alias/a.jpg", f"file://{a}"):
        assert normalise_path(spelling) == a, spelling
    assert normalise_path("real/link.jpg") == str(real / "link.jpg")
    assert normalise_path("missing/b.jpg") == str(tmp_path / "missing" / "b.jpg")  # fails later, by this name
    assert normalise_path(normalise_path("./real/a.jpg")) == a  # idempotent: stored paths read back the same
