"""A persisted vector index for embeddings: faiss for the vectors, SQLite for what they are.

faiss rather than LanceDB: the batch job already writes its rows to Parquet, so the index
only needs vectors and ids; faiss is that and nothing more (exact inner product here, IVF/HNSW
when collections grow), runs in-process with no dataset format of its own to keep in step
with the Parquet, and filters by id set at search time (``IDSelectorBatch``), so metadata
filters are exact, not a post-filter of the top k.

Layout in the index folder: ``items.sqlite`` (id, path, model, kind, label, box, extra JSON
and the vector itself; every change one transaction) is the record, and ``vectors.faiss``
(``IndexIDMap2`` over ``IndexFlatIP``: cosine on unit vectors), written atomically on
:meth:`save`, is its search structure: when it is missing or behind the record (a job killed
between the two), it is rebuilt from the record on open; a folder holds one embedding model's vectors (mixing
models would compare incomparable spaces, so :meth:`add` refuses another model).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

VECTORS = "vectors.faiss"
ITEMS = "items.sqlite"
_FILTERABLE = ("path", "kind", "label")


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    path: str
    kind: str
    label: str | None
    box: tuple[float, ...] | None
    extra: dict[str, Any]


class VectorIndex:
    """Open (or create) the index in ``folder``; ``dim`` is fixed by the first vectors added."""

    def __init__(self, folder: str | Path) -> None:
        import faiss

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.folder / ITEMS), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, path TEXT NOT NULL, model TEXT NOT NULL, kind TEXT NOT NULL,
                                              label TEXT, box TEXT, extra TEXT, vector BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS items_path ON items(path);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);""")
        vec = self.folder / VECTORS
        self._index = faiss.read_index(str(vec)) if vec.is_file() else None
        n_items = self._db.execute("SELECT count(*) FROM items").fetchone()[0]
        if (self._index.ntotal if self._index is not None else 0) != n_items:
            self._rebuild()

    def _rebuild(self) -> None:
        import faiss

        rows = self._db.execute("SELECT id, vector FROM items ORDER BY id").fetchall()
        self._index = None
        if rows:
            v = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(v.shape[1]))
            self._index.add_with_ids(v, np.array([r[0] for r in rows], np.int64))
        self.save()

    @property
    def model(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
        return row[0] if row else None

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def add(self, vectors: np.ndarray, paths: Sequence[str], *, model: str, kinds: Sequence[str] | None = None,
            labels: Sequence[str | None] | None = None, boxes: Sequence[Sequence[float] | None] | None = None,
            extra: Sequence[Mapping[str, Any]] | None = None) -> np.ndarray:
        """Add (N, D) unit vectors with their item metadata; returns their ids."""
        import faiss

        v = np.ascontiguousarray(vectors, np.float32)
        n = len(paths)
        if v.ndim != 2 or len(v) != n:
            raise ValueError(f"expected (N, D) vectors for {n} paths, got {v.shape}")
        if n and not np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3):
            raise ValueError("vectors must be L2-normalised (cosine similarity as inner product)")
        if self.model is not None and model != self.model:
            raise ValueError(f"this index holds {self.model!r} vectors; {model!r} vectors are not comparable with them")
        if self._index is None:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(v.shape[1]))
        elif v.shape[1] != self._index.d:
            raise ValueError(f"expected {self._index.d}-d vectors, got {v.shape[1]}-d")
        start = (self._db.execute("SELECT max(id) FROM items").fetchone()[0] or 0) + 1
        ids = np.arange(start, start + n, dtype=np.int64)
        kinds = kinds or ["image"] * n
        labels = labels or [None] * n
        boxes = boxes or [None] * n
        extra = extra or [{}] * n
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('model', ?)", (model,))
            self._db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 [(int(i), str(p), model, k, lab, None if b is None else json.dumps([float(x) for x in b]), json.dumps(dict(e)), row.tobytes())
                                  for i, p, k, lab, b, e, row in zip(ids, paths, kinds, labels, boxes, extra, v)])
        self._index.add_with_ids(v, ids)
        return ids

    def delete_paths(self, paths: Iterable[str]) -> int:
        """Remove every item of these paths (images and their crops); returns how many."""
        import faiss

        paths = list(paths)
        if not paths or self._index is None:
            return 0
        q = ",".join("?" * len(paths))
        ids = np.array([r[0] for r in self._db.execute(f"SELECT id FROM items WHERE path IN ({q})", paths)], np.int64)
        if len(ids):
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            with self._db:
                self._db.execute(f"DELETE FROM items WHERE path IN ({q})", paths)
        return int(len(ids))

    def search(self, query: np.ndarray, k: int = 10, *, where: Mapping[str, str] | None = None) -> list[Hit]:
        """The ``k`` items most similar to one (D,) unit query, best first; ``where`` filters
        exactly on path, kind or label (e.g. ``{"kind": "detection", "label": "car"}``)."""
        import faiss

        if self._index is None or len(self) == 0:
            return []
        q = np.ascontiguousarray(np.asarray(query, np.float32).reshape(1, -1))
        if q.shape[1] != self._index.d:
            raise ValueError(f"expected a {self._index.d}-d query, got {q.shape[1]}-d")
        params = None
        if where:
            bad = sorted(set(where) - set(_FILTERABLE))
            if bad:
                raise ValueError(f"cannot filter on {bad}; filterable: {', '.join(_FILTERABLE)}")
            cond = " AND ".join(f"{key} = ?" for key in where)
            ids = np.array([r[0] for r in self._db.execute(f"SELECT id FROM items WHERE {cond}", list(where.values()))], np.int64)
            if len(ids) == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
        scores, ids = self._index.search(q, min(k, len(self)), params=params)
        hits = []
        for s, i in zip(scores[0], ids[0]):
            if i < 0:
                continue
            row = self._db.execute("SELECT path, kind, label, box, extra FROM items WHERE id = ?", (int(i),)).fetchone()
            hits.append(Hit(int(i), float(s), row[0], row[1], row[2], None if row[3] is None else tuple(json.loads(row[3])), json.loads(row[4])))
        return hits

    def paths(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT DISTINCT path FROM items")}

    def save(self) -> None:
        """Write the vectors atomically (the SQLite side commits on every change)."""
        import faiss

        if self._index is None:
            (self.folder / VECTORS).unlink(missing_ok=True)
            return
        tmp = self.folder / f".{VECTORS}.{os.getpid()}.tmp"
        faiss.write_index(self._index, str(tmp))
        os.replace(tmp, self.folder / VECTORS)

    def close(self) -> None:
        self._db.close()
