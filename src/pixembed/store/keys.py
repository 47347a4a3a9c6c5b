"""API keys in SQLite: hashed secrets, scopes, and per-key rate and quota counters.

A key reads ``pxe_<id>_<secret>``: the id (public, shown by ``keys list``) finds the row, the SHA-256 of
the whole key is compared with the stored one in constant time, and the secret (192 random bits) is
never stored. Keys are random, so a plain SHA-256 is enough (no password-style stretching is needed).

Every admitted request updates its key's counters in one ``BEGIN IMMEDIATE`` transaction, which SQLite
serialises across threads and processes: 50 racing requests against a quota of N admit exactly N, and the
counts survive a restart because each commit is fsynced (WAL, synchronous=FULL).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from pixembed.errors import Conflict, InvalidRequest, NotFound
from pixembed.store.limits import Decision, parse_limit, quota_decision, quota_period, rate_decision
from pixembed.store.sql import immediate_transaction

SCOPES = ("read", "write", "admin")
PREFIX = "pxe"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash BLOB NOT NULL,
    scopes TEXT NOT NULL,
    quota TEXT,
    rate TEXT,
    created_at REAL NOT NULL,
    revoked_at REAL,
    last_used_at REAL,
    total_requests INTEGER NOT NULL DEFAULT 0,
    rate_tat REAL NOT NULL DEFAULT 0,
    quota_period TEXT,
    quota_used INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS keys_live_name ON keys(name) WHERE revoked_at IS NULL;
"""
_COLUMNS = (
    "id, name, scopes, quota, rate, created_at, revoked_at, last_used_at, total_requests, "
    "rate_tat, quota_period, quota_used"
)


@dataclass(frozen=True)
class KeyInfo:
    """One key as ``keys list`` and the admin route show it: never the secret or its hash."""

    id: str
    name: str
    scopes: tuple[str, ...]
    quota: str | None
    rate: str | None
    created_at: float
    revoked_at: float | None
    last_used_at: float | None
    total_requests: int
    quota_used: int
    """Calls counted in the current quota period (0 once a new period starts)."""


@dataclass(frozen=True)
class Admission:
    """The outcome of charging one request to a key: the binding limit's decision, if any limit is set."""

    allowed: bool
    decision: Decision | None
    refused_by: str | None = None
    quota_left: int | None = None
    """Calls left in the key's quota period after this one (None: the key has no quota)."""


def parse_scopes(text: str | list[str]) -> tuple[str, ...]:
    """``"read,write"`` -> ``("read", "write")``, in canonical order; ``InvalidRequest`` on unknown ones."""
    items = text.split(",") if isinstance(text, str) else text
    wanted = {item.strip().lower() for item in items if item.strip()}
    unknown = wanted - set(SCOPES)
    if unknown or not wanted:
        raise InvalidRequest(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {text!r}")
    return tuple(scope for scope in SCOPES if scope in wanted)


def hash_key(key: str) -> bytes:
    """The digest stored for a key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyStore:
    """The key table in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def create(
        self,
        name: str,
        scopes: tuple[str, ...] = ("read",),
        quota: str | None = None,
        rate: str | None = None,
    ) -> tuple[str, KeyInfo]:
        """Create a key; returns the key itself (shown once, never stored) and its record."""
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidRequest("a key name must be 1 to 100 characters")
        scopes = parse_scopes(list(scopes))
        quota = str(parse_limit(quota)) if quota else None
        rate = str(parse_limit(rate)) if rate else None
        key_id = secrets.token_hex(6)
        key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(24)}"
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO keys (id, name, hash, scopes, quota, rate, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key_id, name, hash_key(key), ",".join(scopes), quota, rate, self._clock()),
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"a live key named {name!r} exists; revoke it or pick another name") from exc
        return key, self.get(key_id)

    def get(self, id_or_name: str) -> KeyInfo:
        """A key by id, or a live key by name; ``NotFound`` otherwise."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM keys WHERE id = ? OR (name = ? AND revoked_at IS NULL) "
                "ORDER BY revoked_at IS NULL DESC LIMIT 1",
                (id_or_name, id_or_name),
            ).fetchone()
        if row is None:
            raise NotFound(f"no key with id or name {id_or_name!r}")
        return self._info(row)

    def list(self, include_revoked: bool = False) -> list[KeyInfo]:
        """Every key, oldest first, with its usage."""
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM keys {where} ORDER BY created_at, id").fetchall()
        return [self._info(row) for row in rows]

    def revoke(self, id_or_name: str, *, keep_an_admin: bool = False) -> KeyInfo:
        """Revoke a live key by id or name; it stops working at once, in every process.

        With ``keep_an_admin``, revoking the last live key with the admin scope is refused (``Conflict``):
        the check and the revocation are one transaction, so two racing revocations cannot both pass it.
        """
        info = self.get(id_or_name)
        if info.revoked_at is not None:
            raise NotFound(f"key {id_or_name!r} is already revoked")
        with self._transaction() as db:
            if keep_an_admin and "admin" in info.scopes:
                others = db.execute(
                    "SELECT COUNT(*) FROM keys WHERE revoked_at IS NULL AND id != ? "
                    "AND (',' || scopes || ',') LIKE '%,admin,%'",
                    (info.id,),
                ).fetchone()[0]
                if not others:
                    raise Conflict(
                        f"key {info.name!r} is the last live admin key, so revoking it would leave nobody "
                        "able to manage keys: create another admin key first (POST /v1/keys with the admin "
                        "scope, or `pixembed keys create --scopes admin`), or revoke it with "
                        "`pixembed keys revoke`"
                    )
            db.execute("UPDATE keys SET revoked_at = ? WHERE id = ?", (self._clock(), info.id))
        return self.get(info.id)

    def has_live_keys(self) -> bool:
        """True when at least one key is not revoked."""
        with self._lock:
            row = self._db.execute("SELECT EXISTS (SELECT 1 FROM keys WHERE revoked_at IS NULL)").fetchone()
        return bool(row[0])

    def has_ever_had_keys(self) -> bool:
        """True when any key was ever created here, revoked or not: a server on this store asks for keys."""
        with self._lock:
            row = self._db.execute("SELECT EXISTS (SELECT 1 FROM keys)").fetchone()
        return bool(row[0])

    def authenticate(self, presented: str) -> KeyInfo | None:
        """The live key ``presented`` is, or None; the hash comparison takes constant time."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        with self._lock:
            row = self._db.execute(
                f"SELECT hash, {_COLUMNS} FROM keys WHERE id = ? AND revoked_at IS NULL", (parts[1],)
            ).fetchone()
        if row is None:
            return None
        if not hmac.compare_digest(row[0], hash_key(presented)):
            return None
        return self._info(row[1:])

    def admit(self, key_id: str) -> Admission:
        """Charge one request to the key: admitted only if under its rate and quota, atomically."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT quota, rate, rate_tat, quota_period, quota_used FROM keys WHERE id = ?", (key_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no key with id {key_id!r}")
            quota_text, rate_text, tat, period, used = row
            now = self._clock()
            decisions: list[tuple[str, Decision]] = []
            new_tat = tat
            quota_count: int | None = None
            if rate_text:
                rate_result, new_tat = rate_decision(parse_limit(rate_text), tat, now)
                decisions.append(("rate limit", rate_result))
            if quota_text:
                quota = parse_limit(quota_text)
                current, reset_s = quota_period(quota, now)
                used = used if period == current else 0
                period = current
                quota_count = quota.count
                decisions.append(("quota", quota_decision(quota, used, reset_s)))
            refused = [(what, d) for what, d in decisions if not d.allowed]
            if refused:
                what, decision = max(refused, key=lambda item: item[1].retry_after_s)
                left = None if quota_count is None else max(0, quota_count - used)
                return Admission(False, decision, what, left)
            db.execute(
                "UPDATE keys SET rate_tat = ?, quota_period = ?, quota_used = ?, "
                "total_requests = total_requests + 1, last_used_at = ? WHERE id = ?",
                (new_tat, period, used + 1 if quota_text else used, now, key_id),
            )
        binding = min(decisions, key=lambda item: item[1].remaining)[1] if decisions else None
        return Admission(True, binding, quota_left=None if quota_count is None else quota_count - used - 1)

    def _info(self, row: tuple[object, ...]) -> KeyInfo:
        (key_id, name, scopes, quota, rate, created, revoked, last_used, total, _tat, period, used) = row
        if quota and isinstance(quota, str) and period != quota_period(parse_limit(quota), self._clock())[0]:
            used = 0
        return KeyInfo(
            id=str(key_id),
            name=str(name),
            scopes=tuple(str(scopes).split(",")),
            quota=str(quota) if quota else None,
            rate=str(rate) if rate else None,
            created_at=float(created),  # type: ignore[arg-type]
            revoked_at=float(revoked) if revoked is not None else None,  # type: ignore[arg-type]
            last_used_at=float(last_used) if last_used is not None else None,  # type: ignore[arg-type]
            total_requests=int(total),  # type: ignore[call-overload]
            quota_used=int(used),  # type: ignore[call-overload]
        )
