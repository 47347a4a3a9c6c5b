"""PostgreSQL with pgvector as the vector backend: ``--store postgresql://user:pass@host/db``.

Every replica that points at the same database sees the same collections. One catalogue table
(``pixembed_vector_collections``) records each collection's model, dimensions and item count (kept by each
write in its transaction, so counting is not a table scan); each collection's items
live in a table of their own (``pixembed_vectors_<n>``: id, ``vector(d)``, ``jsonb`` metadata) with an HNSW
index for cosine distance (``vector_cosine_ops``, m=16, ef_construction=64, pgvector's defaults). A query
sets ``hnsw.ef_search`` for itself (100, or top_k when larger) and turns on pgvector's strict-order iterative
scan, so a filter that rejects most of the graph's candidates still fills top_k; a result still shorter than
top_k is checked by an exact scan. Writes return only after COMMIT.

Connections come from a psycopg_pool ``ConnectionPool`` (autocommit, with explicit transactions), each
configured by the ``pgvector`` package to send and receive vectors as numpy arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, LiteralString

import numpy as np
import psycopg
from pgvector import Vector as PgVector
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from pixembed.errors import Conflict, InvalidRequest, NotFound, Overloaded, Unavailable
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
from pixembed.store.jsonb_filters import jsonb_where

CATALOGUE = "pixembed_vector_collections"
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
EF_SEARCH = 100
# pgvector indexes vector columns of up to 2,000 dimensions; a wider collection is searched exactly.
HNSW_MAX_DIMENSIONS = 2000
# How many index tuples one iterative scan may visit before giving up (pgvector's default is 20,000).
MAX_SCAN_TUPLES = 20_000
# How long a request waits for a pooled connection before it is told the store is unavailable.
POOL_WAIT_S = 10.0
# Any fixed number: the advisory lock that serialises schema set-up between replicas starting at once.
SCHEMA_LOCK = 0x70697865  # "pixe"

SCHEMA = sql.SQL(
    """
    CREATE TABLE IF NOT EXISTS {catalogue} (
        name TEXT PRIMARY KEY,
        table_id BIGSERIAL UNIQUE,
        model TEXT NOT NULL,
        dimensions INTEGER NOT NULL CHECK (dimensions > 0),
        -- Kept by every write in its own transaction, so a count is one row read, not a table scan.
        item_count BIGINT NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """
).format(catalogue=sql.Identifier(CATALOGUE))


def check_pgvector_version(version: str) -> None:
    """Refuse pgvector before 0.8, which lacks the iterative index scans that filtered searches rely on."""
    parts = version.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]) or (int(parts[0]), int(parts[1])) < (0, 8):
        raise Unavailable(
            f"the PostgreSQL vector store has pgvector {version or 'of unknown version'}; pixembed needs 0.8 "
            "or later (ALTER EXTENSION vector UPDATE, after installing a newer pgvector)"
        )


def _items(table_id: int) -> sql.Identifier:
    return sql.Identifier(f"pixembed_vectors_{table_id}")


class PgVectorStore(VectorStore):
    """Collections as PostgreSQL tables with a pgvector column and an HNSW index."""

    def __init__(self, uri: str, *, max_connections: int = 8, ef_search: int = EF_SEARCH) -> None:
        self.ef_search = ef_search
        try:
            # The extension must exist before a pooled connection can look up the vector type. Replicas
            # starting together would race on CREATE ... IF NOT EXISTS (a unique violation in the system
            # catalogues), so the set-up runs under a transaction-scoped advisory lock.
            with psycopg.connect(uri, autocommit=True) as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
                check_pgvector_version(str(row[0]) if row else "")
                conn.execute(SCHEMA)
        except psycopg.OperationalError as exc:
            raise Unavailable(f"cannot reach the PostgreSQL vector store: {_first_line(exc)}") from exc
        except psycopg.Error as exc:
            raise Unavailable(
                f"cannot prepare the PostgreSQL vector store (is pgvector installed, and may this user "
                f"CREATE EXTENSION vector?): {_first_line(exc)}"
            ) from exc
        self.pool: ConnectionPool[psycopg.Connection[TupleRow]] = ConnectionPool(
            uri,
            min_size=1,
            max_size=max_connections,
            timeout=POOL_WAIT_S,
            kwargs={"autocommit": True},
            configure=register_vector,
            open=True,
            name="pixembed-pgvector",
        )

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """One transaction, committed when the block ends; driver failures become pixembed errors."""
        try:
            with self.pool.connection() as conn, conn.transaction():
                yield conn
        except psycopg.DataError as exc:
            # Text PostgreSQL cannot hold: a NUL character in an id or in metadata, NaN in JSON.
            raise InvalidRequest(f"the vector store refused the data: {_first_line(exc)}") from exc
        except psycopg.errors.UndefinedTable as exc:
            # Another replica dropped the collection between reading its catalogue row and using its table.
            raise NotFound("the collection was deleted while this request ran") from exc
        except psycopg.errors.DeadlockDetected as exc:
            raise Overloaded("the vector store aborted a write that deadlocked with another; retry") from exc
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise Unavailable(f"the PostgreSQL vector store is unreachable: {_first_line(exc)}") from exc

    def _entry(self, conn: psycopg.Connection[TupleRow], name: str) -> tuple[int, CollectionInfo]:
        row = _catalogue_row(
            conn, "SELECT table_id, model, dimensions, item_count FROM {} WHERE name = %s", name
        )
        return int(row[0]), CollectionInfo(name, str(row[1]), int(row[2]), int(row[3]))

    def _add_to_count(self, conn: psycopg.Connection[TupleRow], table_id: int, change: int) -> None:
        # Last in the transaction: writers of one collection queue on this row only for their COMMIT.
        if change:
            conn.execute(
                sql.SQL("UPDATE {} SET item_count = item_count + %s WHERE table_id = %s").format(
                    sql.Identifier(CATALOGUE)
                ),
                [change, table_id],
            )

    def create_collection(self, name: str, model: str, dimensions: int) -> CollectionInfo:
        """Record the collection and create its table and HNSW index, in one transaction."""
        check_new_collection(name, dimensions)
        with self._transaction() as conn:
            # ON CONFLICT DO NOTHING: a replica racing on the same name waits for the first's COMMIT and
            # then sees no row returned, a Conflict rather than a unique-violation error.
            row = conn.execute(
                sql.SQL(
                    "INSERT INTO {} (name, model, dimensions) VALUES (%s, %s, %s) "
                    "ON CONFLICT (name) DO NOTHING RETURNING table_id"
                ).format(sql.Identifier(CATALOGUE)),
                [name, model, dimensions],
            ).fetchone()
            if row is None:
                raise Conflict(f"collection {name!r} already exists")
            items = _items(int(row[0]))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} "
                    "(id TEXT PRIMARY KEY, vector vector({}) NOT NULL, metadata JSONB NOT NULL)"
                ).format(items, sql.Literal(dimensions))
            )
            if dimensions <= HNSW_MAX_DIMENSIONS:
                conn.execute(
                    sql.SQL(
                        "CREATE INDEX ON {} USING hnsw (vector vector_cosine_ops) "
                        "WITH (m = {}, ef_construction = {})"
                    ).format(items, sql.Literal(HNSW_M), sql.Literal(HNSW_EF_CONSTRUCTION))
                )
        return CollectionInfo(name, model, dimensions, 0)

    def list_collections(self) -> list[CollectionInfo]:
        """Every collection with its count, by name."""
        with self._transaction() as conn:
            rows = conn.execute(
                sql.SQL("SELECT name, model, dimensions, item_count FROM {} ORDER BY name").format(
                    sql.Identifier(CATALOGUE)
                )
            ).fetchall()
        return [CollectionInfo(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]

    def get_collection(self, name: str) -> CollectionInfo:
        """One collection with its exact count."""
        with self._transaction() as conn:
            return self._entry(conn, name)[1]

    def delete_collection(self, name: str) -> None:
        """Drop the collection's table and its catalogue row together."""
        with self._transaction() as conn:
            # The table first: writes in flight finish (their count included) before the catalogue row
            # goes, and later ones find no table (NotFound) rather than deadlocking with this.
            table_id, _ = self._entry(conn, name)
            conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(_items(table_id)))
            row = _catalogue_row(conn, "DELETE FROM {} WHERE name = %s RETURNING table_id", name)
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_items(int(row[0]))))

    def scan(self, name: str, batch_size: int = 1000) -> Iterator[list[Record]]:
        """Every record, by id order, one keyset page per transaction (no long-held cursor)."""
        after: str | None = None
        while True:
            with self._transaction() as conn:
                table_id, _ = self._entry(conn, name)
                rows = conn.execute(
                    sql.SQL(
                        "SELECT id, vector, metadata FROM {} WHERE %s::text IS NULL OR id > %s "
                        "ORDER BY id LIMIT %s"
                    ).format(_items(table_id)),
                    [after, after, batch_size],
                ).fetchall()
            if not rows:
                return
            yield [_record(row) for row in rows]
            after = str(rows[-1][0])

    def existing(self, name: str, item_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The metadata of the stored ones among ``item_ids``."""
        with self._transaction() as conn:
            table_id, _ = self._entry(conn, name)
            rows = conn.execute(
                sql.SQL("SELECT id, metadata FROM {} WHERE id = ANY(%s)").format(_items(table_id)),
                [list(item_ids)],
            ).fetchall()
        return {str(row[0]): dict(row[1]) for row in rows}

    def upsert(self, name: str, records: Sequence[Record]) -> int:
        """Insert or replace items by id; returns after the transaction has committed."""
        if not records:
            self.get_collection(name)
            return 0
        for record in records:
            if not isinstance(record.metadata, dict):
                raise InvalidRequest("metadata must be a JSON object")
        with self._transaction() as conn:
            table_id, info = self._entry(conn, name)
            ids, vectors = check_records(info, records)
            # Rows in id order: two batches that share ids lock them in the same order, so they queue
            # behind each other instead of deadlocking.
            order = sorted(range(len(ids)), key=ids.__getitem__)
            with conn.cursor() as cursor:
                # xmax = 0 on a row this statement inserted; a replaced row carries this transaction's id.
                cursor.executemany(
                    sql.SQL(
                        "INSERT INTO {} (id, vector, metadata) VALUES (%s, %s, %s) ON CONFLICT (id) "
                        "DO UPDATE SET vector = EXCLUDED.vector, metadata = EXCLUDED.metadata "
                        "RETURNING (xmax = 0)"
                    ).format(_items(table_id)),
                    [(ids[i], vectors[i], Jsonb(records[i].metadata)) for i in order],
                    returning=True,
                )
                inserted = 0
                while True:
                    inserted += sum(1 for (new,) in cursor.fetchall() if new)
                    if not cursor.nextset():
                        break
            self._add_to_count(conn, table_id, inserted)
        return len(records)

    def get(self, name: str, item_id: str) -> Record:
        """One item; ``NotFound`` if absent."""
        with self._transaction() as conn:
            table_id, _ = self._entry(conn, name)
            row = conn.execute(
                sql.SQL("SELECT id, vector, metadata FROM {} WHERE id = %s").format(_items(table_id)),
                [item_id],
            ).fetchone()
        if row is None:
            raise NotFound(f"collection {name!r} has no item {item_id!r}")
        return _record(row)

    def delete(self, name: str, item_ids: Sequence[str]) -> int:
        """Delete items by id; returns how many existed."""
        with self._transaction() as conn:
            table_id, _ = self._entry(conn, name)
            # Locked in id order first, as upsert writes them, so a delete and an upsert cannot deadlock.
            locked = sql.SQL("SELECT id FROM {} WHERE id = ANY(%s) ORDER BY id FOR UPDATE")
            conn.execute(locked.format(_items(table_id)), [list(item_ids)])
            deleted = conn.execute(
                sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(_items(table_id)), [list(item_ids)]
            ).rowcount
            self._add_to_count(conn, table_id, -deleted)
            return deleted

    def search(self, name: str, vector: Vector, top_k: int, where: Filter | None = None) -> list[Match]:
        """The nearest items by cosine through the HNSW index, filtered in SQL; exact when the index
        returns fewer than top_k (a filter that the graph walk could not satisfy)."""
        check_top_k(top_k)
        condition, params = jsonb_where(where)
        with self._transaction() as conn:
            table_id, info = self._entry(conn, name)
            query = check_query(info, vector)
            statement = sql.SQL(
                "SELECT id, 1 - (vector <=> %s) AS score, metadata FROM {} WHERE {} "
                "ORDER BY vector <=> %s LIMIT %s"
            ).format(_items(table_id), condition)
            arguments = [query, *params, query, top_k]
            # set_config(..., true) lasts until this transaction ends, so pooled connections stay clean.
            conn.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', 'strict_order', true), "
                "set_config('hnsw.max_scan_tuples', %s, true)",
                [str(min(max(self.ef_search, top_k), 1000)), str(MAX_SCAN_TUPLES)],
            )
            rows = conn.execute(statement, arguments).fetchall()
            if len(rows) < top_k:
                # Fewer than asked: either the collection (after filtering) is that small, or the graph
                # walk stopped early. An exact scan tells the two apart and answers correctly either way.
                conn.execute("SELECT set_config('enable_indexscan', 'off', true)")
                rows = conn.execute(statement, arguments).fetchall()
        return [Match(str(row[0]), float(row[1]), dict(row[2])) for row in rows]

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool.close()


def _record(row: TupleRow) -> Record:
    vector = row[1].to_numpy() if isinstance(row[1], PgVector) else row[1]
    return Record(str(row[0]), np.asarray(vector, dtype=np.float32), dict(row[2]))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _catalogue_row(conn: psycopg.Connection[TupleRow], statement: LiteralString, name: str) -> TupleRow:
    """Run a catalogue ``statement`` (``{}`` stands for the table) on the row named ``name``; the row it
    returns, or ``NotFound`` when there is no collection of that name."""
    row = conn.execute(sql.SQL(statement).format(sql.Identifier(CATALOGUE)), [name]).fetchone()
    if row is None:
        raise NotFound(f"no collection named {name!r}")
    return row
