"""The collection catalogue: each collection's name, the model its vectors come from, and their dimensions.

A table in SQLite or PostgreSQL (``Database``), for a vector backend that keeps its catalogue in the state
rather than beside its vectors: on a PostgreSQL state, every replica reads the same one, and a name is
claimed once (the primary key decides between two replicas creating the same collection at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pixembed.errors import Conflict, InvalidRequest, NotFound
from pixembed.store.base import check_collection_name
from pixembed.store.database import Database, IntegrityViolation, database_for

CATALOGUE_FILENAME = "catalogue.sqlite3"
MIGRATIONS = (
    """
CREATE TABLE IF NOT EXISTS collection_catalogue (
    name TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    dimensions INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
)
""",
)


@dataclass(frozen=True)
class CatalogueEntry:
    """One collection as the catalogue records it."""

    name: str
    model: str
    dimensions: int
    created_at: float


class CollectionCatalogue:
    """Catalogue entries by collection name; safe to share between threads, processes and replicas."""

    def __init__(self, location: str | Path | Database, clock: Callable[[], float] = time.time) -> None:
        self._db = database_for(location).acquire()
        self._clock = clock
        self._closed = False
        self._db.ensure_schema("collection_catalogue", MIGRATIONS)

    def create(self, name: str, model: str, dimensions: int) -> CatalogueEntry:
        """Record a new collection; ``Conflict`` if the name is taken (by any replica)."""
        check_collection_name(name)
        if dimensions < 1:
            raise InvalidRequest("dimensions must be positive")
        entry = CatalogueEntry(name, model, dimensions, self._clock())
        try:
            with self._db.write() as db:
                db.execute(
                    "INSERT INTO collection_catalogue (name, model, dimensions, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (entry.name, entry.model, entry.dimensions, entry.created_at),
                )
        except IntegrityViolation as exc:
            raise Conflict(f"collection {name!r} already exists") from exc
        return entry

    def get(self, name: str) -> CatalogueEntry:
        """One collection's entry; ``NotFound`` if absent."""
        rows = self._db.read(
            "SELECT name, model, dimensions, created_at FROM collection_catalogue WHERE name = ?", (name,)
        )
        if not rows:
            raise NotFound(f"no collection named {name!r}")
        return _entry(rows[0])

    def list(self) -> list[CatalogueEntry]:
        """Every entry, by name."""
        rows = self._db.read(
            "SELECT name, model, dimensions, created_at FROM collection_catalogue ORDER BY name"
        )
        return [_entry(row) for row in rows]

    def delete(self, name: str) -> None:
        """Forget a collection; ``NotFound`` if absent."""
        with self._db.write() as db:
            gone = db.execute("DELETE FROM collection_catalogue WHERE name = ? RETURNING name", (name,))
        if not gone:
            raise NotFound(f"no collection named {name!r}")

    def close(self) -> None:
        """Let go of the database (closed with its last user)."""
        if not self._closed:
            self._closed = True
            self._db.release()


def _entry(row: tuple[object, ...]) -> CatalogueEntry:
    name, model, dimensions, created_at = row
    return CatalogueEntry(str(name), str(model), int(dimensions), float(created_at))  # type: ignore[call-overload,arg-type]
