"""Thumbnails of stored items, kept beside whichever vector store holds the items.

A small SQLite table keyed by (collection, item id), separate from the vector store so that every backend
(embedded, Qdrant) gets the same thumbnails and none of them needs to know about pictures. Like every
pixembed SQLite file it commits with synchronous=FULL: a thumbnail acknowledged with its item survives a
power loss with it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from pixembed.errors import NotFound
from pixembed.store.base import beside_store

THUMBNAILS_FILENAME = "thumbnails.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS thumbnails (
    collection TEXT NOT NULL,
    item_id TEXT NOT NULL,
    media_type TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (collection, item_id)
) WITHOUT ROWID;
"""


def thumbnails_location(store_location: str, data_dir: Path) -> str:
    """Next to a folder store; in memory for ``:memory:``; in the data directory for a remote store."""
    return beside_store(store_location, data_dir, THUMBNAILS_FILENAME)


class ThumbnailStore:
    """Thumbnail bytes by (collection, item id); safe to share between threads."""

    def __init__(self, location: str) -> None:
        if location != ":memory:":
            Path(location).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(location, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def put_many(self, collection: str, thumbnails: Iterable[tuple[str, bytes]], media_type: str) -> None:
        """Store (or replace) the thumbnails of several items in one transaction."""
        rows = [(collection, item_id, media_type, data) for item_id, data in thumbnails]
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO thumbnails VALUES (?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def get(self, collection: str, item_id: str) -> tuple[bytes, str]:
        """(bytes, media type) of one item's thumbnail; ``NotFound`` when it has none."""
        with self._lock:
            row = self._db.execute(
                "SELECT data, media_type FROM thumbnails WHERE collection = ? AND item_id = ?",
                (collection, item_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"item {item_id!r} in collection {collection!r} has no thumbnail")
        return bytes(row[0]), str(row[1])

    def delete(self, collection: str, item_ids: Sequence[str]) -> None:
        """Forget the thumbnails of these items (missing ones are fine)."""
        if not item_ids:
            return
        with self._lock:
            self._db.executemany(
                "DELETE FROM thumbnails WHERE collection = ? AND item_id = ?",
                [(collection, i) for i in item_ids],
            )

    def delete_collection(self, collection: str) -> None:
        """Forget every thumbnail of a collection."""
        with self._lock:
            self._db.execute("DELETE FROM thumbnails WHERE collection = ?", (collection,))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
