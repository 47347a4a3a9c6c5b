"""Dedup and cluster jobs in SQLite or PostgreSQL, so that a job's outcome outlives the process that ran it.

A client that got 202 and polls after a restart finds its finished result, or learns that the job was
interrupted, instead of an unknown id. Every process serving the same data directory (or, on a PostgreSQL
state, every replica) sees the others' jobs, results included. A job left queued or running by a process that
is no longer alive can never finish: opening the records marks it failed with ``INTERRUPTED``. Only this
host's processes can be checked, so each job records the host that runs it as well as the process id.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixembed.store.base import beside_store
from pixembed.store.database import Database, database_for

JOBS_FILENAME = "jobs.sqlite3"
INTERRUPTED = "the server stopped before this job finished; submit it again"
# Migrations, oldest first (Database.ensure_schema): the first is the table files had before versions were
# kept; the second names the host of the owning process, so a replica never judges another host's pids.
MIGRATIONS = (
    """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    progress DOUBLE PRECISION NOT NULL,
    result TEXT,
    error_code TEXT,
    error_message TEXT,
    owner_pid INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS jobs_by_age ON jobs (created_at)
""",
    "ALTER TABLE jobs ADD COLUMN owner_host TEXT NOT NULL DEFAULT ''",
)
HOST = socket.gethostname()


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
    """Job rows by id in a SQLite file or a PostgreSQL database; safe to share between threads."""

    def __init__(self, location: str | Path | Database) -> None:
        self._db = database_for(location).acquire()
        self._closed = False
        self._db.ensure_schema("jobs", MIGRATIONS)
        with self._db.write(lock="pixembed_jobs_sweep") as db:
            # A file from before hosts were kept says '': its jobs ran on this machine.
            unfinished = db.execute(
                "SELECT id, owner_pid FROM jobs WHERE status IN ('queued', 'running') "
                "AND owner_host IN (?, '')",
                (HOST,),
            )
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
        with self._db.write() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, status, progress, result, error_code, error_message, owner_pid, "
                "owner_host, created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, status = excluded.status, "
                "progress = excluded.progress, result = excluded.result, error_code = excluded.error_code, "
                "error_message = excluded.error_message, owner_pid = excluded.owner_pid, "
                "owner_host = excluded.owner_host, created_at = excluded.created_at, "
                "finished_at = excluded.finished_at",
                (
                    record.id,
                    record.kind,
                    record.status,
                    record.progress,
                    result,
                    record.error_code,
                    record.error_message,
                    os.getpid(),
                    HOST,
                    record.created_at,
                    record.finished_at,
                ),
            )

    def get(self, job_id: str) -> JobRecord | None:
        """A job by id, or None."""
        rows = self._db.read(
            "SELECT id, kind, status, progress, result, error_code, error_message, created_at, "
            "finished_at FROM jobs WHERE id = ?",
            (job_id,),
        )
        if not rows:
            return None
        row = rows[0]
        result = None if row[4] is None else json.loads(row[4])
        return JobRecord(row[0], row[1], row[2], row[3], result, row[5], row[6], row[7], row[8])

    def trim(self, keep: int) -> None:
        """Forget finished jobs beyond the newest ``keep``."""
        with self._db.write() as db:
            db.execute(
                "DELETE FROM jobs WHERE status IN ('done', 'failed') AND id NOT IN "
                "(SELECT id FROM jobs ORDER BY created_at DESC LIMIT ?)",
                (keep,),
            )

    def close(self) -> None:
        """Let go of the database (closed with its last user); later writes are dropped."""
        if not self._closed:
            self._closed = True
            self._db.release()
