"""API keys: hashed secrets, scopes, and per-key rate and quota counters, in SQLite or PostgreSQL.

A key reads ``pxe_<id>_<secret>``: the id (public, shown by ``keys list``) finds the row, the SHA-256 of
the whole key is compared with the stored one in constant time, and the secret (192 random bits) is
never stored. Keys are random, so a plain SHA-256 is enough (no password-style stretching is needed).

A request is charged by one atomic ``UPDATE ... WHERE <under the rate and the quota> RETURNING``: the
database checks and counts in the same statement (a row lock in PostgreSQL, the write lock in SQLite), never a
read followed by a write, so 50 racing requests against a quota of N admit exactly N across threads, processes
and replicas, and the counts survive a restart (fsynced commits). Nothing about a key is cached in the
process: a revocation in one process is refused by every other from its next request on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pixembed.errors import Conflict, InvalidRequest, NotFound
from pixembed.store.database import Database, IntegrityViolation, database_for
from pixembed.store.limits import (
    RATE_SLACK_S,
    Decision,
    Limit,
    parse_limit,
    quota_decision,
    quota_period,
    rate_admitted,
    rate_decision,
)

SCOPES = ("read", "write", "admin")
PREFIX = "pxe"
# Migrations, oldest first (Database.ensure_schema); a key file from before versions were kept has the
# first one's tables already, and IF NOT EXISTS leaves them as they are.
MIGRATIONS = (
    """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash {blob} NOT NULL,
    scopes TEXT NOT NULL,
    quota TEXT,
    rate TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION,
    last_used_at DOUBLE PRECISION,
    total_requests BIGINT NOT NULL DEFAULT 0,
    rate_tat DOUBLE PRECISION NOT NULL DEFAULT 0,
    quota_period TEXT,
    quota_used BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS keys_live_name ON keys(name) WHERE revoked_at IS NULL
""",
)
# A refused charge is explained from a fresh read of the counters; if another request changed them in
# between so that the read would admit, the charge is tried again, this many times at most.
_CHARGE_ATTEMPTS = 5
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
    """The key table in a SQLite file or a PostgreSQL database; safe to share between threads and processes.

    ``KeyStore(path)`` opens (or creates) a SQLite file, ``KeyStore("postgresql://...")`` a PostgreSQL
    database; ``KeyStore(database)`` uses an open ``Database`` (as ``pixembed.store.state.State`` does).
    """

    def __init__(self, location: str | Path | Database, clock: Callable[[], float] = time.time) -> None:
        self._db = database_for(location).acquire()
        self._clock = clock
        self._closed = False
        self._limits: dict[str, tuple[Limit | None, Limit | None]] = {}
        self._db.ensure_schema("keys", MIGRATIONS)

    def close(self) -> None:
        """Let go of the database (closed with its last user)."""
        if not self._closed:
            self._closed = True
            self._db.release()

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
            with self._db.write() as db:
                db.execute(
                    "INSERT INTO keys (id, name, hash, scopes, quota, rate, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key_id, name, hash_key(key), ",".join(scopes), quota, rate, self._clock()),
                )
        except IntegrityViolation as exc:
            raise Conflict(f"a live key named {name!r} exists; revoke it or pick another name") from exc
        return key, self.get(key_id)

    def get(self, id_or_name: str) -> KeyInfo:
        """A key by id, or a live key by name; ``NotFound`` otherwise."""
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM keys WHERE id = ? OR (name = ? AND revoked_at IS NULL) "
            "ORDER BY revoked_at IS NULL DESC LIMIT 1",
            (id_or_name, id_or_name),
        )
        if not rows:
            raise NotFound(f"no key with id or name {id_or_name!r}")
        return self._info(rows[0])

    def list(self, include_revoked: bool = False) -> list[KeyInfo]:
        """Every key, oldest first, with its usage."""
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = self._db.read(f"SELECT {_COLUMNS} FROM keys {where} ORDER BY created_at, id")
        return [self._info(row) for row in rows]

    def revoke(self, id_or_name: str, *, keep_an_admin: bool = False) -> KeyInfo:
        """Revoke a live key by id or name; it stops working at once, in every process.

        With ``keep_an_admin``, revoking the last live key with the admin scope is refused (``Conflict``):
        the check and the revocation are one transaction, so two racing revocations cannot both pass it.
        """
        info = self.get(id_or_name)
        if info.revoked_at is not None:
            raise NotFound(f"key {id_or_name!r} is already revoked")
        # The named lock makes check-then-revoke one step in PostgreSQL too (SQLite's write lock already is).
        with self._db.write(lock="pixembed_keys_revoke") as db:
            if keep_an_admin and "admin" in info.scopes:
                others = db.execute(
                    "SELECT COUNT(*) FROM keys WHERE revoked_at IS NULL AND id != ? "
                    "AND (',' || scopes || ',') LIKE '%,admin,%'",
                    (info.id,),
                )[0][0]
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
        return bool(self._db.read("SELECT EXISTS (SELECT 1 FROM keys WHERE revoked_at IS NULL)")[0][0])

    def has_ever_had_keys(self) -> bool:
        """True when any key was ever created here, revoked or not: a server on this store asks for keys."""
        return bool(self._db.read("SELECT EXISTS (SELECT 1 FROM keys)")[0][0])

    def authenticate(self, presented: str) -> KeyInfo | None:
        """The live key ``presented`` is, or None; the hash comparison takes constant time."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        rows = self._db.read(
            f"SELECT hash, {_COLUMNS} FROM keys WHERE id = ? AND revoked_at IS NULL", (parts[1],)
        )
        if not rows:
            return None
        row = rows[0]
        if not hmac.compare_digest(bytes(row[0]), hash_key(presented)):
            return None
        return self._info(row[1:])

    def admit(self, key_id: str) -> Admission:
        """Charge one request to the key: admitted only if under its rate and quota, atomically."""
        quota, rate = self._limits_of(key_id)
        for _ in range(_CHARGE_ATTEMPTS):
            now, charged = self._charge(key_id, quota, rate)
            if charged is not None:
                return self._admitted(quota, rate, now, *charged)
            refusal = self._refusal(key_id, quota, rate, now)
            if refusal is not None:
                return refusal
        # Counters that keep moving under us: refuse this once rather than loop.
        return self._refusal(key_id, quota, rate, self._clock(), final=True) or Admission(False, None)

    def _limits_of(self, key_id: str) -> tuple[Limit | None, Limit | None]:
        """A key's quota and rate. A key's limits never change once it is created, so they are read once
        per process (its validity and counters are never cached: they are read or updated every time)."""
        limits = self._limits.get(key_id)
        if limits is None:
            rows = self._db.read("SELECT quota, rate FROM keys WHERE id = ?", (key_id,))
            if not rows:
                raise NotFound(f"no key with id {key_id!r}")
            quota, rate = rows[0]
            limits = self._limits[key_id] = (
                parse_limit(quota) if quota else None,
                parse_limit(rate) if rate else None,
            )
        return limits

    def _charge(
        self, key_id: str, quota: Limit | None, rate: Limit | None
    ) -> tuple[float, tuple[float, int] | None]:
        """One atomic UPDATE that counts the request only where the rate and quota still allow it: the time
        it was charged at, and the new (rate time, calls used), or None when refused (nothing written).

        The clock is read once the write transaction is held, not before: time spent waiting for it (a
        busy pool, a locked file, other replicas' charges) must not make this request look older than
        charges made meanwhile, which the rate check would read as a burst."""
        with self._db.write() as db:
            now = self._clock()
            sets = ["total_requests = total_requests + 1", "last_used_at = ?"]
            set_params: list[object] = [now]
            conditions = ["id = ?"]
            where_params: list[object] = [key_id]
            if rate is not None:
                interval = rate.seconds / rate.count
                # GCRA (limits.rate_decision) in SQL: the stored time moves on one interval per admitted call.
                sets.append(f"rate_tat = {self._db.greatest}(rate_tat, ?) + ?")
                set_params += [now, interval]
                conditions.append(f"{self._db.greatest}(rate_tat, ?) + ? - ? - ? <= ?")
                where_params += [now, interval, rate.seconds, now, RATE_SLACK_S]
            if quota is not None:
                period, _ = quota_period(quota, now)
                used = "(CASE WHEN quota_period = ? THEN quota_used ELSE 0 END)"
                sets += [f"quota_used = {used} + 1", "quota_period = ?"]
                set_params += [period, period]
                conditions.append(f"{used} < ?")
                where_params += [period, quota.count]
            rows = db.execute(
                f"UPDATE keys SET {', '.join(sets)} WHERE {' AND '.join(conditions)} "
                "RETURNING rate_tat, quota_used",
                [*set_params, *where_params],
            )
        return now, ((float(rows[0][0]), int(rows[0][1])) if rows else None)

    @staticmethod
    def _admitted(quota: Limit | None, rate: Limit | None, now: float, tat: float, used: int) -> Admission:
        decisions = []
        if rate is not None:
            decisions.append(rate_admitted(rate, tat, now))
        quota_left = None
        if quota is not None:
            decisions.append(quota_decision(quota, used - 1, quota_period(quota, now)[1]))
            quota_left = quota.count - used
        binding = min(decisions, key=lambda d: d.remaining) if decisions else None
        return Admission(True, binding, quota_left=quota_left)

    def _refusal(
        self, key_id: str, quota: Limit | None, rate: Limit | None, now: float, *, final: bool = False
    ) -> Admission | None:
        """Why a charge was refused, from the counters as they stand; None if they would now admit it
        (another request moved them between the two statements), unless ``final``."""
        rows = self._db.read("SELECT rate_tat, quota_period, quota_used FROM keys WHERE id = ?", (key_id,))
        if not rows:
            raise NotFound(f"no key with id {key_id!r}")
        tat, period, used = float(rows[0][0]), rows[0][1], int(rows[0][2])
        decisions: list[tuple[str, Decision]] = []
        if rate is not None:
            decisions.append(("rate limit", rate_decision(rate, tat, now)[0]))
        quota_left = None
        if quota is not None:
            current, reset_s = quota_period(quota, now)
            used = used if period == current else 0
            decisions.append(("quota", quota_decision(quota, used, reset_s)))
            quota_left = max(0, quota.count - used)
        refused = [(what, d) for what, d in decisions if not d.allowed]
        if not refused:
            if not final or not decisions:
                return None
            refused = decisions
        what, decision = max(refused, key=lambda item: item[1].retry_after_s)
        return Admission(False, decision, what, quota_left)

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
