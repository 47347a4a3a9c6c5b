"""Dedup and cluster jobs in SQLite, so that a job's outcome outlives the process that ran it.

A client that got 202 and polls after a restart finds its finished result, or learns that the job was
interrupted, instead of an unknown id. Every process serving the same data directory sees the others' jobs.
A job left queued or running by a process that is no longer alive can never finish: opening the records
marks it failed with ``INTERRUPTED``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixembed.store.base import beside_store
from pixembed.store.sql import immediate_transaction

JOBS_FILENAME = "jobs.sqlite3"
INTERRUPTED = "the server stopped before this job finished; submit it again"
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL,
    result TEXT,
    error_code TEXT,
    error_message TEXT,
    owner_pid INTEGER NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_age ON jobs (created_at);
"""


@dataclass(frozen=True)
class JobRecord:
    """A job as stored: its result as JSON-able data, its error as the error's code and message."""

    id: str
    kind: str
    status: str
    progress: float
    result: Any
    error_code: str | None
    error_message: str | None
    created_at: float
    finished_at: float | None


def jobs_location(store_location: str, data_dir: Path) -> str:
    """Beside a folder store; in memory for ``:memory:``; in the data directory for a remote store."""
    return beside_store(store_location, data_dir, JOBS_FILENAME)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class JobRecords:
    """Job rows by id; safe to share between threads."""

    def __init__(self, location: str) -> None:
        if location != ":memory:":
            Path(location).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._closed = False
        self._db = sqlite3.connect(location, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A finished job's result, once shown to a poller, must survive a power loss (not only kill -9).
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        with immediate_transaction(self._db, self._lock) as db:
            unfinished = db.execute(
                "SELECT id, owner_pid FROM jobs WHERE status IN ('queued', 'running')"
            ).fetchall()
            orphans = [(time.time(), job_id) for job_id, pid in unfinished if not _alive(int(pid))]
            db.executemany(
                "UPDATE jobs SET status = 'failed', error_code = 'unavailable', error_message = ?, "
                "finished_at = ? WHERE id = ?",
                [(INTERRUPTED, now, job_id) for now, job_id in orphans],
            )

    def put(self, record: JobRecord) -> None:
        """Insert or update a job (nothing once closed: a job still running at shutdown then reads as
        interrupted at the next open)."""
        result = None if record.result is None else json.dumps(record.result, allow_nan=False)
        if self._closed:
            return
        with immediate_transaction(self._db, self._lock) as db:
            db.execute(
                "INSERT OR REPLACE INTO jobs (id, kind, status, progress, result, error_code, error_message, "
                "owner_pid, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.kind,
                    record.status,
                    record.progress,
                    result,
                    record.error_code,
                    record.error_message,
                    os.getpid(),
                    record.created_at,
                    record.finished_at,
                ),
            )

    def get(self, job_id: str) -> JobRecord | None:
        """A job by id, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, kind, status, progress, result, error_code, error_message, created_at, "
                "finished_at FROM jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
        if row is None:
            return None
        result = None if row[4] is None else json.loads(row[4])
        return JobRecord(row[0], row[1], row[2], row[3], result, row[5], row[6], row[7], row[8])

    def trim(self, keep: int) -> None:
        """Forget finished jobs beyond the newest ``keep``."""
        with immediate_transaction(self._db, self._lock) as db:
            db.execute(
                "DELETE FROM jobs WHERE status IN ('done', 'failed') AND id NOT IN "
                "(SELECT id FROM jobs ORDER BY created_at DESC LIMIT ?)",
                (keep,),
            )

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._closed = True
            self._db.close()
