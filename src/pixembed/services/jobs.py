"""A small in-process job runner: long dedup/cluster runs on a thread pool, with progress.

With job records (``JobState``) every job is also written to the state when it is submitted, starts, reports
progress (at most once a second) and ends, so its result outlives a restart and other processes serving the
same data directory, or replicas on the same PostgreSQL state, can answer for it; a job a stopped process
left unfinished reads as failed, interrupted. The most recent ``keep`` jobs are kept; older finished ones are
forgotten first. The queue caps (``max_queued``, ``max_queued_per_owner``) count this process's waiting
jobs only: jobs run on the threads of the process that took them, so each replica bounds its own queue.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from pixembed.errors import NotFound, PixembedError, RateLimited, error_for_code
from pixembed.store.job_records import JobRecord
from pixembed.store.state import JobState

JobStatus = Literal["queued", "running", "done", "failed"]
Work = Callable[[Callable[[float], None]], Any]
log = logging.getLogger(__name__)
# A running job's progress is written at most this often (it is kept in memory between writes).
PROGRESS_WRITE_S = 1.0
# What a refused submitter is told to wait: about one short job's run.
QUEUE_FULL_RETRY_S = 10.0


@dataclass
class Job:
    """One submitted run: what it is, where it stands, and its result or error."""

    id: str
    kind: str
    status: JobStatus = "queued"
    progress: float = 0.0
    result: Any = None
    error: PixembedError | None = None
    created_at: float = 0.0
    finished_at: float | None = None
    owner: str = ""


class JobRunner:
    """Runs work functions on a few threads; each gets a progress callback taking 0..1."""

    def __init__(
        self,
        workers: int = 1,
        keep: int = 1000,
        records: JobState | None = None,
        *,
        max_queued: int | None = None,
        max_queued_per_owner: int | None = None,
    ) -> None:
        self._max_queued = max_queued
        self._max_queued_per_owner = max_queued_per_owner
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pixembed-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep
        self._records = records

    def submit(self, kind: str, work: Work, owner: str = "") -> Job:
        """Queue ``work`` for ``owner`` (an API key's name); the returned job's fields change as it runs.

        ``RateLimited`` when the queue already holds the most waiting jobs allowed in all or for this owner.
        """
        job = Job(uuid.uuid4().hex, kind, created_at=time.time(), owner=owner)
        with self._lock:
            self._check_queue(owner)
            self._jobs[job.id] = job
            self._forget_old()
        try:
            self._write(job)
        except PixembedError:  # not recorded, so not accepted: the caller gets the error (503)
            with self._lock:
                self._jobs.pop(job.id, None)
            raise
        if self._records is not None:
            self._records.trim(self._keep)
        self._pool.submit(self._run, job, work)
        return job

    def _check_queue(self, owner: str) -> None:
        """Refuse one more waiting job past either cap (called under the lock)."""
        queued = [j for j in self._jobs.values() if j.status == "queued"]
        if self._max_queued is not None and len(queued) >= self._max_queued:
            raise RateLimited(
                f"{len(queued)} jobs are already waiting, the most this server queues "
                "(PIXEMBED_MAX_QUEUED_JOBS); try again later",
                QUEUE_FULL_RETRY_S,
            )
        mine = sum(1 for j in queued if j.owner == owner)
        if self._max_queued_per_owner is not None and mine >= self._max_queued_per_owner:
            raise RateLimited(
                f"you already have {mine} jobs waiting, the most one API key may queue "
                "(PIXEMBED_MAX_QUEUED_JOBS_PER_KEY); wait for them to start",
                QUEUE_FULL_RETRY_S,
            )

    def get(self, job_id: str) -> Job:
        """A job by id; ``NotFound`` once forgotten or never known."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None and self._records is not None:
            job = _from_record(self._records.get(job_id))
        if job is None:
            where = "kept in memory and forgotten on restart" if self._records is None else "forgotten"
            raise NotFound(f"no job {job_id[:80]!r}: unknown, or finished long ago and {where}")
        return job

    def _run(self, job: Job, work: Work) -> None:
        job.status = "running"
        self._write(job, quiet=True)
        written = time.monotonic()

        def progress(fraction: float) -> None:
            nonlocal written
            job.progress = max(job.progress, min(1.0, max(0.0, float(fraction))))
            if time.monotonic() - written >= PROGRESS_WRITE_S:
                self._write(job, quiet=True)
                written = time.monotonic()

        try:
            ended = replace(job, result=work(progress), progress=1.0, status="done")
        except PixembedError as exc:
            ended = replace(job, error=exc, status="failed")
        except Exception as exc:  # a job must end "failed", never stay "running" forever
            log.exception("job %s (%s) failed", job.id, job.kind)
            internal = PixembedError(f"internal error: {type(exc).__name__}")
            ended = replace(job, error=internal, status="failed")
        ended.finished_at = time.time()
        # Recorded before this process shows it: once a client has seen the outcome here, every process
        # (every replica on a shared state) answers with it too.
        self._write(ended, quiet=True)
        job.result, job.error, job.progress, job.finished_at = (
            ended.result,
            ended.error,
            ended.progress,
            ended.finished_at,
        )
        job.status = ended.status

    def _write(self, job: Job, *, quiet: bool = False) -> None:
        """Record the job; with ``quiet``, a state that cannot be written (a PostgreSQL state that is down)
        is logged rather than raised, so a running job still ends, and this process still answers for it."""
        if self._records is None:
            return
        try:
            self._put(job)
        except PixembedError as exc:
            if not quiet:
                raise
            log.warning("job %s (%s) could not be recorded: %s", job.id, job.kind, exc.message)

    def _put(self, job: Job) -> None:
        assert self._records is not None
        error = job.error
        self._records.put(
            JobRecord(
                job.id,
                job.kind,
                job.status,
                job.progress,
                job.result,
                error.code if error is not None else None,
                error.message if error is not None else None,
                job.created_at,
                job.finished_at,
            )
        )

    def _forget_old(self) -> None:
        while len(self._jobs) > self._keep:
            finished = next((k for k, j in self._jobs.items() if j.status in ("done", "failed")), None)
            if finished is None:
                return
            del self._jobs[finished]

    def close(self) -> None:
        """Stop taking work; running jobs finish (and are recorded as interrupted if the process ends)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._records is not None:
            self._records.close()


def _from_record(record: JobRecord | None) -> Job | None:
    if record is None:
        return None
    error = None
    if record.error_code is not None:
        error = error_for_code(record.error_code, record.error_message or "")
    return Job(
        record.id,
        record.kind,
        cast(JobStatus, record.status),
        record.progress,
        record.result,
        error,
        record.created_at,
        record.finished_at,
    )
