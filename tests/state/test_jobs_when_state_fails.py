"""Jobs when the state cannot be written (a PostgreSQL state that went down): a submission that could not be
recorded is refused, not half-accepted; a job already running still ends, and its process answers for it."""

from __future__ import annotations

import time

import pytest

from pixembed.errors import NotFound, Unavailable
from pixembed.services.jobs import JobRunner
from pixembed.store.job_records import JobRecord


class FailingRecords:
    """Job records whose writes fail from the ``fail_after``-th on, as a state that goes down mid-job."""

    def __init__(self, fail_after: int) -> None:
        self.writes = 0
        self.fail_after = fail_after
        self.kept: dict[str, JobRecord] = {}

    def put(self, record: JobRecord) -> None:
        self.writes += 1
        if self.writes > self.fail_after:
            raise Unavailable("the PostgreSQL state did not answer")
        self.kept[record.id] = record

    def get(self, job_id: str) -> JobRecord | None:
        return self.kept.get(job_id)

    def trim(self, keep: int) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_submission_that_cannot_be_recorded_is_refused_and_not_queued() -> None:
    runner = JobRunner(records=FailingRecords(fail_after=0), max_queued=1)
    with pytest.raises(Unavailable):
        runner.submit("dedup", lambda progress: 1)
    with pytest.raises(Unavailable):  # the refused one does not hold the only queue place
        runner.submit("dedup", lambda progress: 1)


def test_a_running_job_ends_even_when_its_last_writes_fail() -> None:
    records = FailingRecords(fail_after=1)  # the submission is recorded, nothing after
    runner = JobRunner(records=records)
    job = runner.submit("cluster", lambda progress: {"clusters": 3})
    ends = time.monotonic() + 30
    while runner.get(job.id).status != "done" and time.monotonic() < ends:
        time.sleep(0.01)
    assert (runner.get(job.id).status, runner.get(job.id).result) == ("done", {"clusters": 3})
    recorded = records.get(job.id)
    assert recorded is not None and recorded.status == "queued"
    with pytest.raises(NotFound):
        runner.get("unknown")
