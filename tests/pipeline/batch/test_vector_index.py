"""The faiss + SQLite vector index: add, search with exact filters, delete by path, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from sensorium.pipeline.batch.vector_index import VECTORS, VectorIndex


def _unit(n, d=16, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_nearest_items_filters_and_deletes(tmp_path):
    idx = VectorIndex(tmp_path)
    v = _unit(50)
    paths = [f"img{i // 2}.jpg" for i in range(50)]  # an image and one crop each
    kinds = ["image", "detection"] * 25
    labels = [None if k == "image" else ("car" if i % 4 == 1 else "cat") for i, k in enumerate(kinds)]
    ids = idx.add(v, paths, model="m", kinds=kinds, labels=labels, boxes=[None if k == "image" else (1, 2, 3, 4) for k in kinds])
    assert len(idx) == 50 and len(set(ids.tolist())) == 50
    hit = idx.search(v[7], k=3)[0]
    assert hit.id == ids[7] and hit.score == pytest.approx(1.0, abs=1e-5) and hit.path == "img3.jpg" and hit.box == (1, 2, 3, 4)
    cars = idx.search(v[7], k=50, where={"label": "car"})
    assert cars and all(h.label == "car" for h in cars) and len(cars) == sum(lab == "car" for lab in labels)
    assert idx.search(v[0], k=5, where={"label": "unicorn"}) == []
    assert idx.delete_paths(["img3.jpg"]) == 2 and len(idx) == 48
    assert all(h.path != "img3.jpg" for h in idx.search(v[7], k=48))
    with pytest.raises(ValueError, match="not comparable"):
        idx.add(_unit(1), ["x.jpg"], model="other")
    with pytest.raises(ValueError, match="filterable"):
        idx.search(v[0], where={"colour": "red"})


def test_persists_and_rebuilds_a_stale_faiss_file(tmp_path):
    idx = VectorIndex(tmp_path)
    v = _unit(10)
    idx.add(v[:5], [f"{i}.jpg" for i in range(5)], model="m")
    idx.save()
    idx.add(v[5:], [f"{i}.jpg" for i in range(5, 10)], model="m")  # not saved: the faiss file is behind
    idx.close()
    again = VectorIndex(tmp_path)
    assert len(again) == 10 and again.search(v[8], k=1)[0].path == "8.jpg"
    (tmp_path / VECTORS).unlink()
    assert len(VectorIndex(tmp_path)) == 10


def test_rejects_bad_vectors(tmp_path):
    idx = VectorIndex(tmp_path)
    with pytest.raises(ValueError, match="L2-normalised"):
        idx.add(np.ones((2, 4), np.float32), ["a", "b"], model="m")
    with pytest.raises(ValueError, match="expected"):
        idx.add(_unit(3), ["a"], model="m")
