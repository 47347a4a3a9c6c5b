"""Dynamic batching: concurrent callers' rows share one forward pass; each caller gets its own rows back.

The batcher is a plain thread plus a condition variable: ``submit`` queues a job and blocks on its future
(for threads: the CLI, the indexer), ``submit_async`` queues it and awaits the same future without holding
a thread (for the server's requests); one worker thread takes
every job waiting (up to ``max_items`` rows, waiting at most ``max_wait_s`` after the first for more to
arrive), runs the forward once and hands each job its slice. Preprocessing stays in the callers' threads, so
it overlaps with the forward pass that is running. The queue is bounded in rows: a job that would overflow it
raises ``Overloaded`` at once instead of growing memory. The worker thread exits after a few idle seconds and
is started again by the next job, so an idle model holds no thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from pixembed.errors import Overloaded
from pixembed.metrics import BATCH_SIZE, QUEUE_DEPTH

_IDLE_EXIT_S = 5.0
Vectors = npt.NDArray[np.float32]
Rows = npt.NDArray[Any]


@dataclass
class _Job:
    rows: Rows
    future: Future[Vectors] = field(default_factory=Future)


class Batcher:
    """Runs ``forward`` over rows submitted from many threads, batched; one instance per model tower."""

    def __init__(
        self,
        forward: Callable[[Rows], Vectors],
        *,
        tower: str,
        max_items: int,
        max_wait_s: float,
        max_queue: int,
    ) -> None:
        self._forward = forward
        self._tower = tower
        self.max_items = max_items
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self._jobs: list[_Job] = []
        self._depth = 0
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self.forwards = 0
        """Forward passes run so far (one per ``max_items`` chunk)."""

    @property
    def depth(self) -> int:
        """Rows queued and not yet taken by a forward pass."""
        return self._depth

    def submit(self, rows: Rows) -> Vectors:
        """Embed ``rows`` (blocking): they join the next forward pass; raises ``Overloaded`` when full."""
        return self._enqueue(rows).result()

    async def submit_async(self, rows: Rows) -> Vectors:
        """Embed ``rows``, awaiting the forward pass without holding a thread; ``Overloaded`` when full."""
        return await asyncio.wrap_future(self._enqueue(rows))

    def _enqueue(self, rows: Rows) -> Future[Vectors]:
        if len(rows) == 0:
            raise ValueError("submit at least one row")
        job = _Job(rows)
        with self._cond:
            # An empty queue takes any job, so that one request over the bound still runs, alone.
            if self._depth and self._depth + len(rows) > self.max_queue:
                raise Overloaded(
                    f"the {self._tower} queue is full ({self._depth} items waiting, limit {self.max_queue}); "
                    "retry shortly",
                    retry_after_s=1.0,
                )
            self._jobs.append(job)
            self._set_depth(self._depth + len(rows))
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=f"pixembed-{self._tower}", daemon=True)
                self._worker.start()
            self._cond.notify()
        return job.future

    def _set_depth(self, depth: int) -> None:
        self._depth = depth
        QUEUE_DEPTH.labels(self._tower).set(depth)

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            self._execute(batch)

    def _take(self) -> list[_Job] | None:
        """The next jobs to run together, or None when idle long enough to let the thread go."""
        with self._cond:
            idle_until = time.monotonic() + _IDLE_EXIT_S
            while not self._jobs:
                left = idle_until - time.monotonic()
                if left <= 0:
                    self._worker = None
                    return None
                self._cond.wait(left)
            deadline = time.monotonic() + self.max_wait_s
            while self._depth < self.max_items and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            taken: list[_Job] = []
            rows = 0
            while self._jobs and (not taken or rows + len(self._jobs[0].rows) <= self.max_items):
                job = self._jobs.pop(0)
                taken.append(job)
                rows += len(job.rows)
            self._set_depth(self._depth - rows)
            return taken

    def _execute(self, jobs: list[_Job]) -> None:
        """One forward over all the jobs' rows (chunked at ``max_items``); each future gets its slice."""
        try:
            rows = np.concatenate([job.rows for job in jobs]) if len(jobs) > 1 else jobs[0].rows
            chunks = []
            for start in range(0, len(rows), self.max_items):
                chunk = rows[start : start + self.max_items]
                BATCH_SIZE.labels(self._tower).observe(len(chunk))
                self.forwards += 1
                chunks.append(self._forward(chunk))
            vectors = np.concatenate(chunks)
        # Whatever the forward raised belongs to the callers of this batch, not to the worker thread.
        except Exception as exc:
            for job in jobs:
                _settle(job.future, exc)
            return
        start = 0
        for job in jobs:
            _settle(job.future, vectors[start : start + len(job.rows)])
            start += len(job.rows)


def _settle(future: Future[Vectors], outcome: Vectors | Exception) -> None:
    """Hand ``outcome`` to a caller, unless it stopped waiting (an async request cancelled its future)."""
    try:
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except InvalidStateError:
        pass
