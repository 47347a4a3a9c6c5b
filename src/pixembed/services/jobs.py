"""A small in-process job runner: long dedup/cluster runs on a thread pool, with progress.

Jobs live in memory only: a restart forgets them (clients then get 404 and re-submit). The most recent
``keep`` jobs are kept; older finished ones are forgotten first.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from pixembed.errors import NotFound, PixembedError

JobStatus = Literal["queued", "running", "done", "failed"]
Work = Callable[[Callable[[float], None]], Any]
log = logging.getLogger(__name__)


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


class JobRunner:
    """Runs work functions on a few threads; each gets a progress callback taking 0..1."""

    def __init__(self, workers: int = 1, keep: int = 1000) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pixembed-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep

    def submit(self, kind: str, work: Work) -> Job:
        """Queue ``work``; the returned job's fields change as it runs."""
        job = Job(uuid.uuid4().hex, kind, created_at=time.time())
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job:
        """A job by id; ``NotFound`` once forgotten or never known."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id[:80]!r}: jobs are kept in memory and forgotten on restart")
        return job

    def _run(self, job: Job, work: Work) -> None:
        job.status = "running"

        def progress(fraction: float) -> None:
            job.progress = max(job.progress, min(1.0, max(0.0, float(fraction))))

        try:
            job.result = work(progress)
        except PixembedError as exc:
            job.error, job.status = exc, "failed"
        except Exception as exc:  # a job must end "failed", never stay "running" forever
            log.exception("job %s (%s) failed", job.id, job.kind)
            job.error, job.status = PixembedError(f"internal error: {type(exc).__name__}"), "failed"
        else:
            job.progress, job.status = 1.0, "done"
        job.finished_at = time.time()

    def _forget_old(self) -> None:
        while len(self._jobs) > self._keep:
            finished = next((k for k, j in self._jobs.items() if j.status in ("done", "failed")), None)
            if finished is None:
                return
            del self._jobs[finished]

    def close(self) -> None:
        """Stop taking work; running jobs finish."""
        self._pool.shutdown(wait=False, cancel_futures=True)
