"""The embedded default store: SQLite (WAL, synchronous=FULL) holds every record durably; FAISS indexes them.

SQLite is the source of truth: a write is acknowledged only after its transaction commits, and the
in-memory indexes are rebuilt from it when the store opens, so a kill -9 can lose nothing acknowledged.
Several processes may share one data directory (the server, and ``pixembed index`` beside it): SQLite's
``data_version`` tells when another process committed, and the indexes then catch up before answering.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pixembed.errors import Conflict, InvalidRequest, NotFound
from pixembed.store import saved_ivf
from pixembed.store.base import (
    CollectionInfo,
    Match,
    Record,
    Vector,
    VectorStore,
    check_new_collection,
    check_query,
    check_records,
    check_top_k,
)
from pixembed.store.filters import Filter
from pixembed.store.index import CollectionIndex
from pixembed.store.sql import SCHEMA, immediate_transaction, where_sql

DEFAULT_EXACT_MAX = 200_000
DB_FILENAME = "pixembed.sqlite3"
# Trained inverted files of large collections, beside the database (a cache: see saved_ivf).
IVF_FOLDER = "ivf"


class EmbeddedStore(VectorStore):
    """Collections in one SQLite file under ``path`` (or in memory for ``":memory:"``)."""

    def __init__(self, path: str | Path, *, exact_max: int = DEFAULT_EXACT_MAX) -> None:
        self._folder: Path | None = None
        if str(path) == ":memory:":
            target = ":memory:"
        else:
            self._folder = Path(path)
            self._folder.mkdir(parents=True, exist_ok=True)
            target = str(self._folder / DB_FILENAME)
        self.exact_max = exact_max
        self._lock = threading.RLock()
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._indexes: dict[str, CollectionIndex] = {}
        self._data_version = -1
        self._sync()

    def _sync(self) -> None:
        """Bring the in-memory indexes up to what other processes committed since we last looked."""
        with self._lock:
            version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
            if version == self._data_version:
                return
            self._data_version = version
            stored = {r[0]: r for r in self._db.execute("SELECT name, model, dimensions FROM collections")}
            for name in set(self._indexes) - set(stored):
                del self._indexes[name]
            for name, row in stored.items():
                index = self._indexes.get(name)
                if index is None or index.dimensions != row[2]:
                    self._indexes[name] = self._load_index(name, int(row[2]))
                    continue
                self._load_rows(index, name, after=index.max_seq)
                count = self._db.execute(
                    "SELECT COUNT(*) FROM items WHERE collection = ?", (name,)
                ).fetchone()[0]
                if count != index.live_count:  # another process deleted or replaced items
                    self._indexes[name] = self._load_index(name, int(row[2]))

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    def _load_index(self, name: str, dimensions: int) -> CollectionIndex:
        index = CollectionIndex(dimensions, self.exact_max)
        path = self._ivf_path(name)
        # One fit of the codes for the whole collection, or none when its saved inverted file still holds.
        index.load(self._stored_rows(name, after=0), saved_ivf.load(path) if path else None)
        return index

    def _ivf_path(self, name: str) -> Path | None:
        """Where a collection's trained inverted file is saved (``saved_ivf``); None in memory."""
        return None if self._folder is None else self._folder / IVF_FOLDER / f"{name}.npz"

    def _load_rows(self, index: CollectionIndex, name: str, after: int) -> None:
        for seqs, vectors in self._stored_rows(name, after):
            index.add(seqs, vectors)

    def _stored_rows(self, name: str, after: int) -> Iterator[tuple[npt.NDArray[np.int64], Vector]]:
        """Rowids and vectors committed after rowid ``after``, 10,000 at a time."""
        cursor = self._db.execute(
            "SELECT seq, vector FROM items WHERE collection = ? AND seq > ? ORDER BY seq", (name, after)
        )
        while rows := cursor.fetchmany(10_000):
            seqs = np.array([r[0] for r in rows], dtype=np.int64)
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            yield seqs, vectors

    def _index(self, name: str) -> CollectionIndex:
        self._sync()
        index = self._indexes.get(name)
        if index is None:
            raise NotFound(f"no collection named {name!r}")
        return index

    def create_collection(self, name: str, model: str, dimensions: int) -> CollectionInfo:
        """Create an empty collection for vectors of ``model``."""
        check_new_collection(name, dimensions)
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"collection {name!r} already exists")
            db.execute(
                "INSERT INTO collections (name, model, dimensions, created_at) VALUES (?, ?, ?, ?)",
                (name, model, dimensions, time.time()),
            )
            self._indexes[name] = CollectionIndex(dimensions, self.exact_max)
        return CollectionInfo(name, model, dimensions, 0)

    def list_collections(self) -> list[CollectionInfo]:
        """Every collection with its count."""
        self._sync()
        with self._lock:
            rows = self._db.execute(
                "SELECT c.name, c.model, c.dimensions, COUNT(i.seq) FROM collections c "
                "LEFT JOIN items i ON i.collection = c.name GROUP BY c.name ORDER BY c.name"
            ).fetchall()
        return [CollectionInfo(r[0], r[1], int(r[2]), int(r[3])) for r in rows]

    def get_collection(self, name: str) -> CollectionInfo:
        """One collection with its count (the synced index's, which an O(n) SQL COUNT would only repeat)."""
        with self._lock:
            index = self._index(name)
            row = self._db.execute(
                "SELECT model, dimensions FROM collections WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no collection named {name!r}")
            return CollectionInfo(name, row[0], int(row[1]), index.live_count)

    def delete_collection(self, name: str) -> None:
        """Drop a collection and its items."""
        with self._transaction() as db:
            self._index(name)
            db.execute("DELETE FROM items WHERE collection = ?", (name,))
            db.execute("DELETE FROM collections WHERE name = ?", (name,))
            del self._indexes[name]
        if path := self._ivf_path(name):
            saved_ivf.remove(path)

    def scan(self, name: str, batch_size: int = 1000) -> Iterator[list[Record]]:
        """Records in insertion order, ``batch_size`` at a time."""
        self._index(name)
        after = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT seq, id, vector, metadata FROM items WHERE collection = ? AND seq > ? "
                    "ORDER BY seq LIMIT ?",
                    (name, after, batch_size),
                ).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield [Record(r[1], np.frombuffer(r[2], dtype=np.float32).copy(), json.loads(r[3])) for r in rows]

    def existing(self, name: str, item_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Metadata of those of ``item_ids`` that are stored."""
        self._index(name)
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for start in range(0, len(item_ids), 500):
                chunk = list(item_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT id, metadata FROM items WHERE collection = ? AND id IN ({marks})", [name, *chunk]
                )
                found.update((r[0], json.loads(r[1])) for r in rows)
        return found

    def upsert(self, name: str, records: Sequence[Record]) -> int:
        """Insert or replace records by id in one transaction, committed before returning."""
        info = self.get_collection(name)
        if not records:
            return 0
        ids, vectors = check_records(info, records)
        metadata = [_dump_metadata(r.metadata) for r in records]
        with self._transaction() as db:
            index = self._index(name)
            replaced = _seqs_of(db, name, ids)
            if replaced:
                db.executemany("DELETE FROM items WHERE seq = ?", [(s,) for s in replaced])
            seqs = [
                db.execute(
                    "INSERT INTO items (collection, id, vector, metadata) VALUES (?, ?, ?, ?) RETURNING seq",
                    (name, item_id, vector.tobytes(), meta),
                ).fetchone()[0]
                for item_id, vector, meta in zip(ids, vectors, metadata, strict=True)
            ]
        # The index follows the committed rows; a crash here loses nothing, since opening rebuilds it.
        if replaced:
            index.remove(np.array(replaced, dtype=np.int64))
        index.add(np.array(seqs, dtype=np.int64), vectors)
        return len(seqs)

    def get(self, name: str, item_id: str) -> Record:
        """One stored record."""
        self._index(name)
        with self._lock:
            row = self._db.execute(
                "SELECT vector, metadata FROM items WHERE collection = ? AND id = ?", (name, item_id)
            ).fetchone()
        if row is None:
            raise NotFound(f"collection {name!r} has no item {item_id!r}")
        return Record(item_id, np.frombuffer(row[0], dtype=np.float32).copy(), json.loads(row[1]))

    def delete(self, name: str, item_ids: Sequence[str]) -> int:
        """Delete records by id; returns how many existed."""
        with self._transaction() as db:
            index = self._index(name)
            seqs = _seqs_of(db, name, list(item_ids))
            db.executemany("DELETE FROM items WHERE seq = ?", [(s,) for s in seqs])
        if seqs:
            index.remove(np.array(seqs, dtype=np.int64))
        return len(seqs)

    def search(self, name: str, vector: Vector, top_k: int, where: Filter | None = None) -> list[Match]:
        """Best ``top_k`` matches by cosine similarity, among the items that pass ``where``."""
        info = self.get_collection(name)
        query = check_query(info, vector)
        check_top_k(top_k)
        candidates = None
        if where is not None:
            sql, params = where_sql(where)
            with self._lock:
                rows = self._db.execute(
                    f"SELECT seq FROM items WHERE collection = ? AND {sql}", [name, *params]
                ).fetchall()
            candidates = np.array([r[0] for r in rows], dtype=np.int64)
        seqs, scores = self._index(name).search(query, top_k, candidates)
        return self._matches(seqs, scores)

    def _matches(self, seqs: npt.NDArray[np.int64], scores: Vector) -> list[Match]:
        if len(seqs) == 0:
            return []
        marks = ",".join("?" * len(seqs))
        with self._lock:
            rows = self._db.execute(
                f"SELECT seq, id, metadata FROM items WHERE seq IN ({marks})", [int(s) for s in seqs]
            ).fetchall()
        by_seq = {r[0]: (r[1], r[2]) for r in rows}
        return [
            Match(by_seq[int(s)][0], float(score), json.loads(by_seq[int(s)][1]))
            for s, score in zip(seqs, scores, strict=True)
            if int(s) in by_seq
        ]

    def close(self) -> None:
        """Save the trained inverted files and close the database (every write is already committed)."""
        with self._lock:
            for name, index in self._indexes.items():
                if path := self._ivf_path(name):
                    index.save_ivf(path)
            self._db.close()


def _seqs_of(db: sqlite3.Connection, name: str, ids: list[str]) -> list[int]:
    seqs: list[int] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.execute(f"SELECT seq FROM items WHERE collection = ? AND id IN ({marks})", [name, *chunk])
        seqs.extend(int(r[0]) for r in rows)
    return seqs


def _dump_metadata(metadata: object) -> str:
    if not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be a JSON object")
    try:
        return json.dumps(metadata, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"metadata is not valid JSON: {exc}") from exc
