"""The face gallery: identities and their embeddings in one SQLite file, and matching against it.

SQLite, not an in-memory dict: the gallery outlives the process, and the REST service, a
streaming run and a batch job may read it while ``sensorium faces enroll`` writes. The file
is in WAL mode, so readers never block the writer or each other and always see a committed
state; every write is one transaction. A reader keeps a snapshot (names and an (M, D) matrix
per recogniser backend) and reloads it only when SQLite's ``data_version`` says another
connection committed, so a running stage picks up new enrolments without a restart.

Embeddings of different recognisers are not comparable, so each row records its backend
(``dlib``, ``onnx:<sha256 prefix>``) and searches only look at rows of the querying backend.
An identity's similarity to a query is the best over its photos.

The stage layer reads this file as it reads weights files; nothing here imports Ray or HTTP.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS identities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    id INTEGER PRIMARY KEY,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    backend TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    source TEXT,
    quality REAL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS embeddings_backend ON embeddings(backend);
"""


@dataclass(frozen=True)
class Identity:
    name: str
    photos: int
    backends: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    """The best identity for one query: ``name`` None when below the threshold (unknown)."""

    name: str | None
    similarity: float
    candidates: tuple[tuple[str, float], ...]


class GallerySnapshot:
    """Names and unit embeddings of one backend at one moment; pure matching, no I/O."""

    def __init__(self, names: list[str], vectors: np.ndarray) -> None:
        self.vectors = np.asarray(vectors, np.float32).reshape(len(names), -1) if names else np.zeros((0, 0), np.float32)
        self.names = np.array(names, dtype=object)
        self.identities = sorted(set(names))
        self._index = np.array([self.identities.index(n) for n in names], np.int64) if names else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.identities)

    def similarities(self, queries: np.ndarray) -> np.ndarray:
        """(N, D) unit queries → (N, identities) best cosine similarity per identity (-1 if none)."""
        q = np.asarray(queries, np.float32)
        out = np.full((len(q), len(self.identities)), -1.0, np.float32)
        if len(q) == 0 or len(self.identities) == 0:
            return out
        if q.shape[1] != self.vectors.shape[1]:
            raise ValueError(f"query embeddings have {q.shape[1]} dims, the gallery's have {self.vectors.shape[1]}")
        sims = q @ self.vectors.T  # (N, M)
        np.maximum.at(out.T, self._index, sims.T)  # best photo per identity
        return out

    def match(self, queries: np.ndarray, threshold: float, top_k: int = 3) -> list[Match]:
        """Best identity per query; below ``threshold`` it stays unknown (no forced match)."""
        sims = self.similarities(queries)
        out = []
        for row in sims:
            order = np.argsort(-row)[:top_k]
            cands = tuple((self.identities[j], float(row[j])) for j in order)
            best = cands[0] if cands else (None, -1.0)
            out.append(Match(best[0] if best[1] >= threshold else None, best[1], cands))
        return out


class FaceGallery:
    """A gallery file. ``FaceGallery(path)`` creates it (and its folder) when missing;
    ``read_only=True`` never creates or writes (a missing file is then an error)."""

    def __init__(self, path: str | Path, *, read_only: bool = False, timeout: float = 10.0) -> None:
        self.path = Path(path).expanduser()
        self.read_only = read_only
        if read_only and not self.path.is_file():
            raise FileNotFoundError(f"face gallery not found: {self.path} (enrol someone first: sensorium faces enroll)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        target = f"file:{self.path.resolve()}?mode=ro" if read_only else str(self.path)
        self._conn = sqlite3.connect(target, uri=read_only, timeout=timeout, check_same_thread=False)
        try:
            if not read_only:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.executescript(_SCHEMA)
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("SELECT count(*) FROM identities").fetchone()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ValueError(f"{self.path} is not a sensorium face gallery: {exc}") from None
        self._lock = threading.Lock()
        self._snapshots: dict[str, tuple[int, GallerySnapshot]] = {}

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> FaceGallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes -------------------------------------------------------------------------
    def enroll(self, name: str, embeddings: np.ndarray, backend: str, *, sources: list[str] | None = None,
               quality: list[float] | None = None) -> int:
        """Add (K, D) unit embeddings of ``name`` (created if new); returns the photo count after."""
        if self.read_only:
            raise PermissionError(f"{self.path} is open read-only")
        name = name.strip()
        if not name:
            raise ValueError("enroll: the identity needs a non-empty name")
        e = np.asarray(embeddings, np.float32)
        if e.ndim != 2 or len(e) == 0:
            raise ValueError(f"enroll {name!r}: expected (K, D) embeddings with K >= 1, got {e.shape}")
        if not np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-3):
            raise ValueError(f"enroll {name!r}: embeddings must be L2-normalised")
        sources = sources or [None] * len(e)
        quality = quality or [None] * len(e)
        now = time.time()
        with self._lock, self._conn:  # one transaction
            existing = self._conn.execute("SELECT dim FROM embeddings WHERE backend = ? LIMIT 1", (backend,)).fetchone()
            if existing and existing[0] != e.shape[1]:
                raise ValueError(f"enroll {name!r}: {e.shape[1]}-d embeddings for backend {backend!r}, whose gallery rows are {existing[0]}-d")
            self._conn.execute("INSERT OR IGNORE INTO identities(name, created) VALUES (?, ?)", (name, now))
            (ident,) = self._conn.execute("SELECT id FROM identities WHERE name = ?", (name,)).fetchone()
            self._conn.executemany(
                "INSERT INTO embeddings(identity_id, backend, dim, vector, source, quality, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(ident, backend, e.shape[1], v.tobytes(), s, q, now) for v, s, q in zip(e, sources, quality)])
            (count,) = self._conn.execute("SELECT count(*) FROM embeddings WHERE identity_id = ?", (ident,)).fetchone()
            self._snapshots.clear()  # data_version only counts other connections' commits
        return int(count)

    def remove(self, name: str) -> bool:
        """Delete an identity and all its embeddings; False if there was none of that name."""
        if self.read_only:
            raise PermissionError(f"{self.path} is open read-only")
        with self._lock, self._conn:
            row = self._conn.execute("SELECT id FROM identities WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            self._conn.execute("DELETE FROM embeddings WHERE identity_id = ?", row)
            self._conn.execute("DELETE FROM identities WHERE id = ?", row)
            self._snapshots.clear()
        return True

    # --- reads --------------------------------------------------------------------------
    def list(self) -> list[Identity]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT i.name, count(e.id), group_concat(DISTINCT e.backend) FROM identities i "
                "LEFT JOIN embeddings e ON e.identity_id = i.id GROUP BY i.id ORDER BY i.name").fetchall()
        return [Identity(n, int(c), tuple(sorted((b or "").split(","))) if b else ()) for n, c, b in rows]

    def snapshot(self, backend: str) -> GallerySnapshot:
        """The current embeddings of ``backend``; cached until another connection commits."""
        with self._lock:
            (version,) = self._conn.execute("PRAGMA data_version").fetchone()
            cached = self._snapshots.get(backend)
            if cached is not None and cached[0] == version:
                return cached[1]
            rows = self._conn.execute(
                "SELECT i.name, e.dim, e.vector FROM embeddings e JOIN identities i ON i.id = e.identity_id "
                "WHERE e.backend = ? ORDER BY e.id", (backend,)).fetchall()
            names = [r[0] for r in rows]
            vectors = np.stack([np.frombuffer(r[2], np.float32, count=r[1]) for r in rows]) if rows else np.zeros((0, 0), np.float32)
            snap = GallerySnapshot(names, vectors)
            self._snapshots[backend] = (version, snap)
            return snap

    def search(self, queries: np.ndarray, backend: str, *, threshold: float, top_k: int = 3) -> list[Match]:
        return self.snapshot(backend).match(queries, threshold, top_k)
