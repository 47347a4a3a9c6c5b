"""The state contract: every kind of state behaves the same on SQLite files and on a real PostgreSQL server,
and what one ``State`` writes another, opened on the same location (another process, another replica), reads.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixembed.errors import Conflict, InvalidRequest, NotFound, SettingsMismatch, Unavailable
from pixembed.services.jobs import Job, JobRunner
from pixembed.store import job_records
from pixembed.store.database import PostgresDatabase
from pixembed.store.job_records import INTERRUPTED, JobRecord
from pixembed.store.keys import KeyStore
from pixembed.store.state import open_state, sqlite_locations
from tests.state.conftest import OpenState
from tests.state.workers import charge_many

DAY = 86400.0


class Clock:
    """A settable clock, so that rate and quota windows are exact."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# Keys


def test_keys_create_authenticate_list_and_revoke_across_state_objects(open_same: OpenState) -> None:
    one, other = open_same(), open_same()
    key, info = one.keys.create("ci", ("read", "write"), quota="100/month", rate="10/s")
    seen = other.keys.authenticate(key)
    assert seen is not None and (seen.id, seen.name, seen.scopes) == (info.id, "ci", ("read", "write"))
    assert other.keys.authenticate(key[:-2] + "xx") is None
    assert other.keys.authenticate("pxe_nope_nope") is None
    assert [k.name for k in other.keys.list()] == ["ci"]
    assert (other.keys.get("ci").quota, other.keys.get("ci").rate) == ("100/month", "10/s")
    with pytest.raises(Conflict):
        other.keys.create("ci")
    assert other.keys.has_live_keys() and other.keys.has_ever_had_keys()

    other.keys.revoke("ci")
    # No cache of key validity anywhere: the first object refuses the key on its very next check.
    assert one.keys.authenticate(key) is None
    assert one.keys.list() == [] and [k.name for k in one.keys.list(include_revoked=True)] == ["ci"]
    assert not one.keys.has_live_keys() and one.keys.has_ever_had_keys()
    with pytest.raises(NotFound):
        one.keys.revoke(info.id)
    # A revoked key's name is free again.
    assert one.keys.create("ci")[1].id != info.id


def test_the_last_admin_key_cannot_be_revoked_when_asked_to_keep_one(open_same: OpenState) -> None:
    keys = open_same().keys
    keys.create("owner", ("admin",))
    keys.create("second", ("admin", "read"))
    keys.revoke("second", keep_an_admin=True)
    with pytest.raises(Conflict, match="last live admin key"):
        open_same().keys.revoke("owner", keep_an_admin=True)


def test_bad_key_requests_are_refused(open_same: OpenState) -> None:
    keys = open_same().keys
    with pytest.raises(InvalidRequest):
        keys.create("x", ("root",))
    with pytest.raises(InvalidRequest):
        keys.create("x", quota="many")
    with pytest.raises(NotFound):
        keys.get("nobody")


# Quota and rate counters


def test_racing_threads_on_many_connections_admit_exactly_the_quota(open_same: OpenState) -> None:
    _, info = open_same().keys.create("shared", ("read",), quota="20/day")
    stores = [open_same().keys for _ in range(5)]  # each its own connection (or pool), as replicas hold
    start = threading.Barrier(10)

    def hammer(worker: int) -> int:
        start.wait()
        return sum(stores[worker % 5].admit(info.id).allowed for _ in range(5))

    with ThreadPoolExecutor(10) as pool:
        admitted = sum(pool.map(hammer, range(10)))
    assert admitted == 20
    assert open_same().keys.get("shared").quota_used == 20
    refused = stores[0].admit(info.id)
    assert not refused.allowed and refused.refused_by == "quota" and refused.quota_left == 0


def test_racing_processes_admit_exactly_the_quota(open_same: OpenState, key_location: str) -> None:
    """Four separate processes, each with its own connection, charge 15 requests each against 25."""
    _, info = open_same().keys.create("shared", ("read",), quota="25/day")
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=charge_many, args=(key_location, info.id, 15, start, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    start.set()
    admitted = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    assert sum(admitted) == 25
    assert open_same().keys.get("shared").quota_used == 25


def test_time_spent_waiting_for_the_state_never_reads_as_a_burst(
    key_location: str, open_same: OpenState
) -> None:
    # Under load a request can wait seconds for a connection (or the SQLite lock) while other replicas
    # charge the same key. Its rate check must use the time it is charged at, not the time it arrived.
    open_same()
    clock = Clock()
    waiting, other = KeyStore(key_location, clock), KeyStore(key_location, clock)
    try:
        _, info = waiting.create("fast", ("read",), rate="100000/s")
        database = waiting._db  # on SQLite, possibly the very object ``other`` writes through too
        real_write = database.write

        @contextmanager
        def slow_write(lock: str | None = None) -> Iterator[Any]:
            database.write = real_write  # type: ignore[method-assign]  # only this request waits
            clock.now += 2.0  # two seconds in the pool's queue ...
            assert other.admit(info.id).allowed  # ... while another replica charges the key
            with real_write(lock) as transaction:
                yield transaction

        database.write = slow_write  # type: ignore[method-assign]
        assert waiting.admit(info.id).allowed
    finally:
        waiting.close()
        other.close()


def test_rate_limit_admits_the_burst_then_one_per_interval(key_location: str, open_same: OpenState) -> None:
    open_same()  # creates the schema where the state lives
    clock = Clock()
    first, second = KeyStore(key_location, clock), KeyStore(key_location, clock)
    try:
        _, info = first.create("burst", ("read",), rate="5/s")
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(lambda i: (first, second)[i % 2].admit(info.id), range(8)))
        assert sum(o.allowed for o in outcomes) == 5
        refused = next(o for o in outcomes if not o.allowed)
        assert refused.refused_by == "rate limit" and refused.decision is not None
        assert refused.decision.retry_after_s == pytest.approx(0.2, abs=1e-5)
        clock.now += 0.2  # one interval: room for exactly one more
        assert second.admit(info.id).allowed
        assert not first.admit(info.id).allowed
        clock.now += 1.0  # a whole second: the full burst again
        admitted = [first.admit(info.id) for _ in range(6)]
        assert [a.allowed for a in admitted] == [True] * 5 + [False]
        assert admitted[0].decision is not None and admitted[0].decision.remaining == 4
    finally:
        first.close()
        second.close()


def test_quota_resets_with_its_period_and_reports_what_is_left(
    key_location: str, open_same: OpenState
) -> None:
    open_same()
    clock = Clock(1_700_006_400.0)  # 2023-11-15 00:00 UTC
    store = KeyStore(key_location, clock)
    try:
        _, info = store.create("daily", ("read",), quota="3/day")
        lefts = [store.admit(info.id).quota_left for _ in range(3)]
        assert lefts == [2, 1, 0]
        refused = store.admit(info.id)
        assert not refused.allowed and refused.decision is not None
        assert refused.decision.retry_after_s == pytest.approx(DAY, abs=1e-3)
        clock.now += DAY
        assert store.get(info.id).quota_used == 0  # a new day, shown as such before any call
        assert store.admit(info.id).quota_left == 2
        assert store.get(info.id).total_requests == 4
    finally:
        store.close()


# Jobs


def _finished(runner: JobRunner, job_id: str, deadline_s: float = 30.0) -> Job:
    """Poll ``runner`` for a job, as a client polls a server, until it is done or failed."""
    ends = time.monotonic() + deadline_s
    while (job := runner.get(job_id)).status not in ("done", "failed") and time.monotonic() < ends:
        time.sleep(0.02)
    return job


def test_a_job_submitted_through_one_state_is_read_through_another(open_same: OpenState) -> None:
    runner = JobRunner(records=open_same().jobs)
    elsewhere = JobRunner(records=open_same().jobs)
    job = runner.submit("dedup", lambda progress: {"groups": [[1, 2]], "score": 0.5})
    queued = elsewhere.get(job.id)  # known everywhere from the moment it is accepted
    assert (queued.kind, queued.created_at) == ("dedup", job.created_at)
    seen = _finished(elsewhere, job.id)
    expected = ("dedup", "done", 1.0, {"groups": [[1, 2]], "score": 0.5})
    assert (seen.kind, seen.status, seen.progress, seen.result) == expected
    failing = runner.submit("cluster", lambda progress: 1 / 0)
    failed = _finished(elsewhere, failing.id)
    assert failed.status == "failed" and failed.error is not None
    with pytest.raises(NotFound):
        elsewhere.get("no-such-job")


def test_opening_the_jobs_marks_only_this_hosts_dead_jobs_interrupted(
    open_same: OpenState, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = open_same().jobs
    dead = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    dead.start()
    dead.join()
    monkeypatch.setattr(job_records.os, "getpid", lambda: dead.pid)
    records.put(JobRecord("mine", "dedup", "running", 0.5, None, None, None, time.time(), None))
    monkeypatch.setattr(job_records, "HOST", "another-replica-host")
    records.put(JobRecord("theirs", "dedup", "running", 0.5, None, None, None, time.time(), None))
    monkeypatch.undo()
    reopened = open_same().jobs  # as a replica (re)starting on this host
    mine, theirs = reopened.get("mine"), reopened.get("theirs")
    assert mine is not None and (mine.status, mine.error_message) == ("failed", INTERRUPTED)
    # That pid means nothing on this machine: another host's job is left to its own host.
    assert theirs is not None and theirs.status == "running"


# Thumbnails


def test_thumbnails_written_through_one_state_are_served_and_deleted_through_another(
    open_same: OpenState,
) -> None:
    one, other = open_same().thumbnails, open_same().thumbnails
    vector = np.linspace(-1, 1, 8, dtype=np.float32)
    one.put_many("c", [("a", b"\x89PNG-a", vector), ("b", b"\x89PNG-b", -vector)], "image/webp")
    seen = other.get("c", "a")
    assert (seen.data, seen.media_type) == (b"\x89PNG-a", "image/webp")
    assert seen.is_of(vector) and not seen.is_of(-vector)
    one.put_many("c", [("a", b"replaced", vector)], "image/webp")
    assert other.get("c", "a").data == b"replaced"
    other.delete("c", ["a"])
    with pytest.raises(NotFound):
        one.get("c", "a")
    other.delete_collection("c")
    with pytest.raises(NotFound):
        one.get("c", "b")


# Replica settings and the factory


def test_replicas_must_agree_on_the_model_recorded_in_a_shared_state(open_same: OpenState) -> None:
    first = open_same()
    if not first.shared:
        assert first.replica_settings() is None  # SQLite files are this machine's: nothing to agree on
        return
    settings = first.replica_settings()
    assert settings is not None
    settings.agree({"model": "ViT-B-32/openai", "dimensions": "512"})
    second = open_same().replica_settings()
    assert second is not None
    second.agree({"model": "ViT-B-32/openai", "dimensions": "512"})
    with pytest.raises(SettingsMismatch, match=r"model ViT-B-32/openai.*model ViT-L-14") as refused:
        second.agree({"model": "ViT-L-14/openai", "dimensions": "768"})
    assert "password" not in refused.value.message
    assert second.recorded() == {"model": "ViT-B-32/openai", "dimensions": "512"}


def test_unknown_state_uris_are_refused_with_what_is_understood() -> None:
    for location in ("mysql://db/pixembed", "/var/lib/pixembed/state.sqlite"):
        with pytest.raises(InvalidRequest, match="postgresql://"):
            open_state(location, sqlite_locations(":memory:", ":memory:", Path(".")))


def test_an_unreachable_postgresql_state_is_unavailable_with_the_password_hidden(tmp_path: Path) -> None:
    pytest.importorskip("psycopg_pool")
    uri = f"postgresql://pixembed:s3cret@/pixembed?host={tmp_path}"  # no server listens there
    with pytest.raises(Unavailable, match="cannot connect") as refused:
        PostgresDatabase(uri, connect_timeout_s=0.5)
    assert "s3cret" not in refused.value.message and "pixembed:***@" in refused.value.message
