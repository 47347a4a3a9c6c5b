"""Everything a server keeps besides vectors, behind one interface per kind, opened from one state URI.

With no state URI (the default) each kind lives in its own SQLite file, where it always has: keys in
``keys.sqlite``, jobs and thumbnails beside the vector store. ``postgresql://...`` puts all of them in one
PostgreSQL database, through one psycopg connection pool, so that several pixembed servers behind a load
balancer share keys, revocations, quota and rate counters, jobs and their results and thumbnails, and agree
on the model (``ReplicaSettings``).

Each kind is one class written in SQL both databases speak (``pixembed.store.database``); the protocols here
are what the rest of pixembed relies on, so another backend is one more implementation of each.

The collection catalogue (each collection's name, model and dimensions) is not here: every vector backend
keeps it beside its vectors (the embedded store's SQLite file, Qdrant's catalogue collection, pgvector's
table), where one transaction changes both, so replicas sharing a vector backend share its catalogue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from pixembed.store.database import Database, is_postgres, open_database, redact, unknown_state

if TYPE_CHECKING:
    from pixembed.store.job_records import JobRecord
    from pixembed.store.keys import Admission, KeyInfo
    from pixembed.store.thumbnails import Thumbnail, Vector


class Closable(Protocol):
    """Anything opened on the state."""

    def close(self) -> None: ...


Opened = TypeVar("Opened", bound=Closable)


class KeyState(Protocol):
    """API keys with their scopes and their rate and quota counters (``KeyStore``)."""

    def create(
        self, name: str, scopes: tuple[str, ...] = ..., quota: str | None = ..., rate: str | None = ...
    ) -> tuple[str, KeyInfo]: ...
    def get(self, id_or_name: str) -> KeyInfo: ...
    def list(self, include_revoked: bool = ...) -> list[KeyInfo]: ...
    def revoke(self, id_or_name: str, *, keep_an_admin: bool = ...) -> KeyInfo: ...
    def has_live_keys(self) -> bool: ...
    def has_ever_had_keys(self) -> bool: ...
    def authenticate(self, presented: str) -> KeyInfo | None: ...
    def admit(self, key_id: str) -> Admission: ...
    def close(self) -> None: ...


class JobState(Protocol):
    """Background jobs and their results, readable by any process on the state (``JobRecords``)."""

    def put(self, record: JobRecord) -> None: ...
    def get(self, job_id: str) -> JobRecord | None: ...
    def trim(self, keep: int) -> None: ...
    def close(self) -> None: ...


class ThumbnailState(Protocol):
    """Thumbnails of stored items by (collection, item id) (``ThumbnailStore``)."""

    def put_many(
        self, collection: str, thumbnails: Sequence[tuple[str, bytes, Vector]], media_type: str
    ) -> None: ...
    def get(self, collection: str, item_id: str) -> Thumbnail: ...
    def delete(self, collection: str, item_ids: Sequence[str]) -> None: ...
    def delete_collection(self, collection: str) -> None: ...
    def close(self) -> None: ...


class SettingsState(Protocol):
    """Settings every replica must share (``ReplicaSettings``)."""

    def agree(self, values: Mapping[str, str]) -> None: ...
    def recorded(self) -> dict[str, str]: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class SqliteLocations:
    """Where the SQLite default keeps each kind of state (a file path, or ``:memory:``)."""

    keys: str
    jobs: str
    thumbnails: str


class State:
    """The state of one server: each kind opened on first use, all closed together.

    ``open_state`` builds it. ``shared`` is True on PostgreSQL, where other replicas use the same rows.
    """

    def __init__(self, uri: str | None, sqlite: SqliteLocations) -> None:
        self.uri = uri
        self._sqlite = sqlite
        self._lock = threading.Lock()
        self._opened: dict[str, Closable] = {}
        # One pool for every kind on PostgreSQL, opened now so a wrong URI fails at start, not on a request.
        self._database: Database | None = open_database(uri).acquire() if uri is not None else None

    @property
    def shared(self) -> bool:
        """True when other processes on other machines may share this state (PostgreSQL)."""
        return self._database is not None and self._database.shared

    @property
    def where(self) -> str:
        """The state's location for messages (a URI without its password, or "SQLite files")."""
        return redact(self.uri) if self.uri is not None else "SQLite files in the data directory"

    def _location(self, kind: str) -> str | Database:
        return self._database if self._database is not None else getattr(self._sqlite, kind)

    def _open(self, kind: str, factory: Callable[[str | Database], Opened]) -> Opened:
        with self._lock:
            opened = self._opened.get(kind)
            if opened is None:
                opened = self._opened[kind] = factory(self._location(kind))
            return opened  # type: ignore[return-value]  # each kind's key holds what its factory made

    @property
    def keys(self) -> KeyState:
        """API keys, scopes, and rate and quota counters."""
        from pixembed.store.keys import KeyStore

        return self._open("keys", KeyStore)

    @property
    def jobs(self) -> JobState:
        """Background job records (opening them marks this host's orphaned jobs interrupted)."""
        from pixembed.store.job_records import JobRecords

        return self._open("jobs", JobRecords)

    @property
    def thumbnails(self) -> ThumbnailState:
        """Thumbnails of stored items."""
        from pixembed.store.thumbnails import ThumbnailStore

        return self._open("thumbnails", ThumbnailStore)

    def replica_settings(self) -> SettingsState | None:
        """The settings replicas must share; None on SQLite, which no other machine shares."""
        if self._database is None or not self._database.shared:
            return None
        from pixembed.store.replica_settings import ReplicaSettings

        where = self.where
        return self._open("replica_settings", lambda database: ReplicaSettings(database, where))

    def close(self) -> None:
        """Close every kind opened, then the shared pool."""
        with self._lock:
            opened, self._opened = list(self._opened.values()), {}
        for each in opened:
            each.close()
        if self._database is not None:
            self._database.release()
            self._database = None


def open_state(uri: str | None, sqlite: SqliteLocations) -> State:
    """The state at ``uri`` (``postgresql://...``), or in the SQLite files ``sqlite`` names when None."""
    if uri is not None and not is_postgres(uri):
        raise unknown_state(uri)
    return State(uri, sqlite)


def sqlite_locations(key_store: str | Path, beside: str, data_dir: Path) -> SqliteLocations:
    """The default SQLite files: keys at ``key_store``; the rest beside the vector store at ``beside``."""
    from pixembed.store.base import beside_store
    from pixembed.store.job_records import JOBS_FILENAME
    from pixembed.store.thumbnails import THUMBNAILS_FILENAME

    return SqliteLocations(
        keys=str(key_store),
        jobs=beside_store(beside, data_dir, JOBS_FILENAME),
        thumbnails=beside_store(beside, data_dir, THUMBNAILS_FILENAME),
    )
