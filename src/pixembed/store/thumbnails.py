"""Thumbnails of stored items, kept beside whichever vector store holds the items.

A small table keyed by (collection, item id), separate from the vector store so that every backend
(embedded, Qdrant) gets the same thumbnails and none of them needs to know about pictures: a SQLite file by
default, or the PostgreSQL state that replicas share. Its commits are durable (SQLite with synchronous=FULL):
a thumbnail acknowledged with its item survives a power loss with it.

Each thumbnail keeps (in float16) the vector of the item it was made for, and is served only while the
stored item still has that vector: whatever the interleaving of an add with a delete of the item or its
collection (and a re-creation), a picture never outlives, or speaks for, another version of its item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pixembed.errors import NotFound
from pixembed.store.base import beside_store
from pixembed.store.database import Database, SqliteDatabase, database_for

THUMBNAILS_FILENAME = "thumbnails.sqlite3"
# Migrations, oldest first (Database.ensure_schema). Files from before vectors were kept lack the vector
# column; ThumbnailStore adds it to them.
MIGRATIONS = (
    """
CREATE TABLE IF NOT EXISTS thumbnails (
    collection TEXT NOT NULL,
    item_id TEXT NOT NULL,
    media_type TEXT NOT NULL,
    data {blob} NOT NULL,
    vector {blob},
    PRIMARY KEY (collection, item_id)
) {without_rowid}
""",
)
# A thumbnail speaks for an item whose vector is this close (cosine) to the one it was made for; float16
# storage alone costs ~1e-6, while another picture's vector sits far lower.
SAME_ITEM_COSINE = 0.999

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Thumbnail:
    """A stored thumbnail: its bytes, media type, and the vector of the item it was made for."""

    data: bytes
    media_type: str
    vector: Vector | None  # None for thumbnails written before vectors were kept

    def is_of(self, vector: Vector) -> bool:
        """Whether this thumbnail was made for an item with (about) this vector."""
        if self.vector is None:
            return True
        norms = float(np.linalg.norm(self.vector) * np.linalg.norm(vector))
        return norms > 0 and float(self.vector @ vector) / norms >= SAME_ITEM_COSINE


def thumbnails_location(store_location: str, data_dir: Path) -> str:
    """Next to a folder store; in memory for ``:memory:``; in the data directory for a remote store."""
    return beside_store(store_location, data_dir, THUMBNAILS_FILENAME)


class ThumbnailStore:
    """Thumbnail bytes by (collection, item id) in a SQLite file or a PostgreSQL database; thread-safe."""

    def __init__(self, location: str | Path | Database) -> None:
        self._db = database_for(location).acquire()
        self._closed = False
        self._db.ensure_schema("thumbnails", MIGRATIONS)
        if isinstance(self._db, SqliteDatabase) and "vector" not in self._db.columns("thumbnails"):
            with self._db.write() as db:  # a file from before vectors were kept
                db.execute("ALTER TABLE thumbnails ADD COLUMN vector BLOB")

    def put_many(
        self, collection: str, thumbnails: Iterable[tuple[str, bytes, Vector]], media_type: str
    ) -> None:
        """Store (or replace) the thumbnails of several items, each with its item's vector, in one
        transaction."""
        rows = [
            (collection, item_id, media_type, data, np.asarray(vector, dtype=np.float16).tobytes())
            for item_id, data, vector in thumbnails
        ]
        if not rows:
            return
        with self._db.write() as db:
            db.executemany(
                "INSERT INTO thumbnails (collection, item_id, media_type, data, vector) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (collection, item_id) DO UPDATE SET media_type = excluded.media_type, "
                "data = excluded.data, vector = excluded.vector",
                rows,
            )

    def get(self, collection: str, item_id: str) -> Thumbnail:
        """One item's thumbnail; ``NotFound`` when it has none."""
        rows = self._db.read(
            "SELECT data, media_type, vector FROM thumbnails WHERE collection = ? AND item_id = ?",
            (collection, item_id),
        )
        if not rows:
            raise NotFound(f"item {item_id!r} in collection {collection!r} has no thumbnail")
        row = rows[0]
        vector = None if row[2] is None else np.frombuffer(row[2], dtype=np.float16).astype(np.float32)
        return Thumbnail(bytes(row[0]), str(row[1]), vector)

    def delete(self, collection: str, item_ids: Sequence[str]) -> None:
        """Forget the thumbnails of these items (missing ones are fine)."""
        if not item_ids:
            return
        with self._db.write() as db:
            db.executemany(
                "DELETE FROM thumbnails WHERE collection = ? AND item_id = ?",
                [(collection, i) for i in item_ids],
            )

    def delete_collection(self, collection: str) -> None:
        """Forget every thumbnail of a collection."""
        with self._db.write() as db:
            db.execute("DELETE FROM thumbnails WHERE collection = ?", (collection,))

    def close(self) -> None:
        """Let go of the database (closed with its last user)."""
        if not self._closed:
            self._closed = True
            self._db.release()
