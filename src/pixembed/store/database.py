"""One small seam over the two SQL databases that hold pixembed's state: SQLite files and PostgreSQL.

Keys, quota and rate counters, jobs, thumbnails, the collection catalogue and the replica settings are each
written once, in SQL both databases speak (``?`` placeholders, ``INSERT ... ON CONFLICT``, ``RETURNING``),
and run on either through ``Database``: ``SqliteDatabase`` (one file, one connection shared by this process's
threads; the default) or ``PostgresDatabase`` (a psycopg 3 connection pool on a server that several pixembed
processes share). What differs between the two (column types, how a write transaction takes its lock) is
here and nowhere else.

Each kind of state keeps a simple schema version (``pixembed_schema``): ``ensure_schema`` creates the tables
on first open and runs the migrations a database has not had yet, under the write lock, so replicas opening
the same server at once do not race each other's ``CREATE TABLE``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixembed.errors import InvalidRequest, Unavailable

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

Row = tuple[Any, ...]
Params = Sequence[Any]
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
STATE_SCHEMA = "pixembed"
"""The PostgreSQL schema that holds the state's tables."""
_VERSIONS = "CREATE TABLE IF NOT EXISTS pixembed_schema (kind TEXT PRIMARY KEY, version INTEGER NOT NULL)"


class IntegrityViolation(Exception):
    """A write broke a uniqueness or other constraint (either database's own error is its cause)."""


class Transaction(ABC):
    """Statements run inside one write transaction."""

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one statement; its rows (empty for statements that return none)."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement once per parameter row."""


class Database(ABC):
    """A SQL database shared by the kinds of state opened on it (closed when the last one lets go)."""

    blob_type = "BLOB"
    """The column type of raw bytes."""
    greatest = "MAX"
    """The SQL function that returns the larger of its arguments."""
    without_rowid = "WITHOUT ROWID"
    """SQLite's option for tables keyed by their primary key alone (nothing in PostgreSQL)."""
    setup_sql: str | None = None
    """A statement run before any schema is created (PostgreSQL: pixembed's own schema)."""

    def __init__(self) -> None:
        self._users = 0
        self._users_lock = threading.Lock()

    @property
    @abstractmethod
    def shared(self) -> bool:
        """True when other processes (replicas) may use the same database at the same time."""

    @abstractmethod
    def read(self, sql: str, params: Params = ()) -> list[Row]:
        """The rows of one query, read outside any write transaction."""

    @abstractmethod
    def write(self, lock: str | None = None) -> AbstractContextManager[Transaction]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        With ``lock``, the transaction first takes that named lock, held until it ends, so that two
        read-decide-write transactions under the same name (in any process) run one after the other.
        """

    @abstractmethod
    def _close(self) -> None:
        """Release the connection(s)."""

    def acquire(self) -> Database:
        """Count one more user; each must ``release`` once."""
        with self._users_lock:
            self._users += 1
        return self

    def release(self) -> None:
        """Count one user less; the connections close with the last."""
        with self._users_lock:
            self._users -= 1
            last = self._users <= 0
        if last:
            self._close()

    def ensure_schema(self, kind: str, migrations: Sequence[str]) -> None:
        """Bring ``kind``'s tables to version ``len(migrations)``: migration ``i`` takes version ``i`` to
        ``i + 1`` (DDL statements separated by ``;``, ``{blob}`` for the bytes type, ``{without_rowid}``
        after a table)."""
        with self.write(lock="pixembed_schema") as tx:
            if self.setup_sql is not None:
                tx.execute(self.setup_sql)
            tx.execute(_VERSIONS)
            found = tx.execute("SELECT version FROM pixembed_schema WHERE kind = ?", (kind,))
            version = int(found[0][0]) if found else 0
            for ddl in migrations[version:]:
                for statement in ddl.format(blob=self.blob_type, without_rowid=self.without_rowid).split(";"):
                    if statement.strip():
                        tx.execute(statement)
            if version < len(migrations):
                tx.execute(
                    "INSERT INTO pixembed_schema (kind, version) VALUES (?, ?) "
                    "ON CONFLICT (kind) DO UPDATE SET version = excluded.version",
                    (kind, len(migrations)),
                )


class _SqliteTransaction(Transaction):
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        return self._db.execute(sql, tuple(params)).fetchall()

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._db.executemany(sql, [tuple(row) for row in rows])


class SqliteDatabase(Database):
    """One SQLite file (or ``:memory:``): WAL, fsynced commits, one connection for this process's threads.

    A write transaction is ``BEGIN IMMEDIATE``: it takes SQLite's write lock up front, which serialises
    every read-decide-write across threads and processes (so named locks need nothing more).
    """

    def __init__(self, location: str | Path) -> None:
        super().__init__()
        self.location = str(location)
        if self.location != ":memory:":
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.location, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # An acknowledged write (a key, a charged call, a finished job) survives a power loss too.
        self._db.execute("PRAGMA synchronous=FULL")
        self._closed = False

    @property
    def shared(self) -> bool:
        return False

    def read(self, sql: str, params: Params = ()) -> list[Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def write(self, lock: str | None = None) -> Iterator[Transaction]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTransaction(self._db)
            except BaseException as exc:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise IntegrityViolation(str(exc)) from exc
                raise
            self._db.execute("COMMIT")

    def columns(self, table: str) -> set[str]:
        """The column names of a table (for migrations of files older than ``pixembed_schema``)."""
        return {str(row[1]) for row in self.read(f"PRAGMA table_info({table})")}

    def _close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()


def _postgres_sql(sql: str) -> str:
    # psycopg takes %s placeholders, so a literal % (LIKE patterns) is doubled first.
    return sql.replace("%", "%%").replace("?", "%s")


class _PostgresTransaction(Transaction):
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        self._cursor.execute(_postgres_sql(sql), tuple(params))
        return list(self._cursor.fetchall()) if self._cursor.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            self._cursor.executemany(_postgres_sql(sql), [tuple(row) for row in rows])


class PostgresDatabase(Database):
    """A PostgreSQL database through a psycopg 3 connection pool, shared by every replica; the tables are
    in the ``pixembed`` schema.

    Writes run in READ COMMITTED transactions; those that read, decide, then write take a named lock
    (``pg_advisory_xact_lock``), or are one atomic statement (quota charges).
    """

    blob_type = "BYTEA"
    greatest = "GREATEST"
    without_rowid = ""
    # Every table lives in a schema of pixembed's own, so that names such as "keys" or "jobs" never meet a
    # table of another application in a database that users share (pgvector's tables stay where they are).
    setup_sql = f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}"

    def __init__(self, uri: str, *, max_connections: int = 10, connect_timeout_s: float = 10.0) -> None:
        super().__init__()
        try:
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - the extra is part of the dev install
            raise InvalidRequest(
                "a postgresql:// state needs the PostgreSQL driver: pip install 'pixembed[postgres]'"
            ) from exc
        self.uri = uri
        self._pool: ConnectionPool = ConnectionPool(
            uri,
            min_size=1,
            max_size=max_connections,
            open=False,
            timeout=connect_timeout_s,
            kwargs={"options": f"-c search_path={STATE_SCHEMA}"},
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except Exception as exc:  # psycopg_pool.PoolTimeout, and whatever the driver raised under it
            self._pool.close()
            raise Unavailable(
                f"cannot connect to the PostgreSQL state at {redact(uri)} within {connect_timeout_s:g} s: "
                "check the URI, that the server runs and that this user may connect"
            ) from exc

    @property
    def shared(self) -> bool:
        return True

    def read(self, sql: str, params: Params = ()) -> list[Row]:
        with self._unavailable_when_down(), self._pool.connection() as conn:
            cursor = conn.execute(_postgres_sql(sql), tuple(params))
            return list(cursor.fetchall()) if cursor.description is not None else []

    @contextmanager
    def write(self, lock: str | None = None) -> Iterator[Transaction]:
        import psycopg

        try:
            with (
                self._unavailable_when_down(),
                self._pool.connection() as conn,
                conn.transaction(),
                conn.cursor() as cursor,
            ):
                if lock is not None:
                    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
                yield _PostgresTransaction(cursor)
        except psycopg.IntegrityError as exc:
            raise IntegrityViolation(str(exc)) from exc

    @contextmanager
    def _unavailable_when_down(self) -> Iterator[None]:
        """A server that is down, restarting or out of connections (and a pool whose connections are all
        busy past the timeout: ``PoolTimeout``) is a 503 the client may retry, not an internal error."""
        import psycopg

        try:
            yield
        except psycopg.OperationalError as exc:
            raise Unavailable(
                f"the PostgreSQL state at {redact(self.uri)} did not answer ({type(exc).__name__}); "
                "retry shortly"
            ) from exc

    def _close(self) -> None:
        self._pool.close()


def redact(uri: str) -> str:
    """``uri`` without its password, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    # libpq also takes the password as a query parameter.
    parts = parts._replace(query=re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query))
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[-1]
        parts = parts._replace(netloc=f"{parts.username}:***@{host}")
    return urlunsplit(parts)


def is_postgres(location: str) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URI."""
    return location.startswith(POSTGRES_SCHEMES)


def database_for(location: str | Path | Database) -> Database:
    """``location`` itself when it is an open ``Database``, else the database it names (``open_database``)."""
    return location if isinstance(location, Database) else open_database(location)


def open_database(location: str | Path) -> Database:
    """A SQLite file (a path or ``:memory:``) or a PostgreSQL database (``postgresql://...``)."""
    text = str(location)
    if is_postgres(text):
        return PostgresDatabase(text)
    if "://" in text:
        raise unknown_state(text)
    return SqliteDatabase(text)


def unknown_state(location: str) -> InvalidRequest:
    """The error for a state location that is not a PostgreSQL URI."""
    return InvalidRequest(
        f"unknown state location {redact(location)!r}: use postgresql://USER:PASSWORD@HOST/DATABASE "
        "(or leave it unset for SQLite files in the data directory)"
    )
