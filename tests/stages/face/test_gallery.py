"""The SQLite face gallery: enrol, list, remove, search, thresholds, concurrent readers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

import numpy as np
import pytest

from sensorium.stages.face.recognize import l2_normalize
from sensorium.stages.face.gallery import FaceGallery, GallerySnapshot


def _vecs(n, d=8, seed=0):
    return l2_normalize(np.random.default_rng(seed).normal(size=(n, d)))


def test_enrol_list_search_remove(tmp_path):
    path = tmp_path / "g" / "faces.sqlite"
    people = _vecs(3)
    with FaceGallery(path) as g:
        g.enroll("ann", people[:1], "dlib")
        g.enroll("bob", people[1:2], "dlib", sources=["bob.jpg"])
        assert g.enroll("ann", l2_normalize(people[:1] + 0.05), "dlib") == 2  # a second photo
        assert [(p.name, p.photos) for p in g.list()] == [("ann", 2), ("bob", 1)]
        m = g.search(np.concatenate([people[:2], people[2:3]]), "dlib", threshold=0.9)
        assert [x.name for x in m] == ["ann", "bob", None]  # the stranger stays unknown
        assert m[0].similarity == pytest.approx(1.0, abs=1e-5) and m[2].similarity < 0.9
        assert g.search(people[:1], "onnx:abc", threshold=0.5)[0].name is None  # other backend: no rows
        assert g.remove("ann") and not g.remove("ann")
        assert [p.name for p in g.list()] == ["bob"]
        assert g.search(people[:1], "dlib", threshold=0.9)[0].name is None


def test_a_reader_sees_commits_of_another_connection(tmp_path):
    path = tmp_path / "faces.sqlite"
    writer = FaceGallery(path)
    writer.enroll("ann", _vecs(1), "dlib")
    reader = FaceGallery(path, read_only=True)
    assert len(reader.snapshot("dlib")) == 1
    writer.enroll("bob", _vecs(1, seed=1), "dlib")
    assert len(reader.snapshot("dlib")) == 2
    with pytest.raises(PermissionError):
        reader.enroll("eve", _vecs(1), "dlib")


@pytest.mark.parametrize("vectors, match", [
    (np.ones((1, 8), np.float32), "L2-normalised"),
    (np.zeros((0, 8), np.float32), "K >= 1"),
    (_vecs(1, d=4), "4-d embeddings"),
])
def test_enrol_rejects_bad_embeddings(tmp_path, vectors, match):
    with FaceGallery(tmp_path / "f.sqlite") as g:
        g.enroll("ann", _vecs(1), "dlib")
        with pytest.raises(ValueError, match=match):
            g.enroll("bob", vectors, "dlib")


def test_missing_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="face gallery not found"):
        FaceGallery(tmp_path / "none.sqlite", read_only=True)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match="not a sensorium face gallery"):
        FaceGallery(tmp_path / "junk.sqlite")


def _reader(path, n, out):
    g = FaceGallery(path, read_only=True)
    seen = set()
    for _ in range(n):
        seen.add(len(g.snapshot("dlib")))
    out.put(sorted(seen))


def test_concurrent_readers_while_writing(tmp_path):
    """Two reader processes poll while this process enrols 30 people: no errors, counts only grow."""
    path = tmp_path / "faces.sqlite"
    g = FaceGallery(path)
    g.enroll("p0", _vecs(1), "dlib")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_reader, args=(str(path), 400, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for i in range(1, 30):
        g.enroll(f"p{i}", _vecs(1, seed=i), "dlib")
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for seen in results:
        assert all(1 <= s <= 30 for s in seen)
    assert len(g.snapshot("dlib")) == 30


def test_snapshot_takes_the_best_photo_per_identity():
    v = _vecs(3)
    snap = GallerySnapshot(["a", "a", "b"], v)
    sims = snap.similarities(v[1:2])
    assert sims.shape == (1, 2) and sims[0, 0] == pytest.approx(1.0, abs=1e-5)
