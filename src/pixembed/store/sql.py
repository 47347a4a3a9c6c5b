"""SQLite schema and the translation of metadata filters into SQL over the JSON metadata column."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from pixembed.store.filters import Condition, Filter

SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    dimensions INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    -- AUTOINCREMENT: a replaced item gets a fresh seq, never its predecessor's, so an in-memory index
    -- (which catches up by seq) never confuses the two.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    id TEXT NOT NULL,
    vector BLOB NOT NULL,
    metadata TEXT NOT NULL,
    UNIQUE (collection, id)
);
"""


def where_sql(where: Filter) -> tuple[str, list[Any]]:
    """A SQL condition on ``items.metadata`` equivalent to ``Filter.matches``, with its parameters."""
    parts: list[str] = []
    params: list[Any] = []
    for condition in where.conditions:
        sql, values = _condition_sql(condition)
        parts.append(sql)
        params.extend(values)
    return " AND ".join(parts), params


def _path(key: str) -> str:
    # Quoted so that keys with dots or spaces name one key, not a nested path (filters refuse '"').
    return f'$."{key}"'


def _equals(key: str, value: Any) -> tuple[str, list[Any]]:
    sql, params = _equals_or_null(key, value)
    # A missing key makes json_type NULL; COALESCE keeps NOT (...) true for it, as Filter.matches does.
    return f"COALESCE({sql}, 0)", params


def _equals_or_null(key: str, value: Any) -> tuple[str, list[Any]]:
    path = _path(key)
    if isinstance(value, bool):
        return "json_type(metadata, ?) = ?", [path, "true" if value else "false"]
    if isinstance(value, str):
        return "(json_type(metadata, ?) = 'text' AND json_extract(metadata, ?) = ?)", [path, path, value]
    return (
        "(json_type(metadata, ?) IN ('integer', 'real') AND json_extract(metadata, ?) = ?)",
        [path, path, value],
    )


def _condition_sql(condition: Condition) -> tuple[str, list[Any]]:
    op, value, key = condition.op, condition.value, condition.key
    if op in ("eq", "ne"):
        sql, params = _equals(key, value)
        return (sql if op == "eq" else f"NOT {sql}"), params
    if op in ("in", "nin"):
        assert isinstance(value, tuple)
        pieces = [_equals(key, v) for v in value]
        sql = "(" + " OR ".join(p[0] for p in pieces) + ")" if pieces else "0"
        params = [x for p in pieces for x in p[1]]
        return (sql if op == "in" else f"NOT {sql}"), params
    symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    path = _path(key)
    return (
        f"(json_type(metadata, ?) IN ('integer', 'real') AND json_extract(metadata, ?) {symbol} ?)",
        [path, path, value],
    )


@contextmanager
def immediate_transaction(
    db: sqlite3.Connection, lock: AbstractContextManager[Any]
) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``db``: committed when the block ends, rolled back if it raises.

    IMMEDIATE takes SQLite's write lock up front, so a read-decide-write is atomic across processes;
    ``lock`` serialises this process's threads, which share the connection.
    """
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
