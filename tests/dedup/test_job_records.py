"""Jobs written to SQLite: a finished job's result and error outlive the runner that ran it, and a job a
stopped process left unfinished reads as interrupted, over the API as well."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from pixembed.errors import InvalidRequest, Unavailable
from pixembed.services.jobs import Job, JobRunner
from pixembed.store.job_records import INTERRUPTED, JobRecord, JobRecords
from tests.factories import MakeApp, MakeClient


def _wait(job: Job) -> None:
    deadline = time.monotonic() + 10
    while job.status not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.01)


def test_results_and_errors_outlive_the_runner(tmp_path: Path) -> None:
    location = str(tmp_path / "jobs.sqlite3")
    runner = JobRunner(records=JobRecords(location))

    def bad(_: object) -> None:
        raise InvalidRequest("collection 'x' is empty: there is nothing to compare")

    done = runner.submit("dedup", lambda progress: {"groups": [["a", "b"]], "score": 0.5})
    failed = runner.submit("cluster", bad)
    _wait(done), _wait(failed)
    runner.close()
    later = JobRunner(records=JobRecords(location))  # as after a restart
    again = later.get(done.id)
    assert (again.kind, again.status, again.progress) == ("dedup", "done", 1.0)
    assert again.result == {"groups": [["a", "b"]], "score": 0.5}
    error = later.get(failed.id).error
    assert isinstance(error, InvalidRequest) and "is empty" in error.message
    later.close()


def test_a_job_left_running_by_a_dead_process_reads_as_interrupted(tmp_path: Path) -> None:
    location = str(tmp_path / "jobs.sqlite3")
    script = "import os; print(os.getpid())"
    dead = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    records = JobRecords(location)
    records.put(JobRecord("j1", "cluster", "running", 0.4, None, None, None, time.time(), None))
    records.close()
    # Rewrite the owner as the process that has exited since (put records the caller's pid).
    with sqlite3.connect(location) as db:
        db.execute("UPDATE jobs SET owner_pid = ?", (int(dead.stdout),))
    job = JobRunner(records=JobRecords(location)).get("j1")
    assert job.status == "failed" and isinstance(job.error, Unavailable) and job.error.message == INTERRUPTED
    # A job still running in a live process (this one) is left alone.
    records = JobRecords(location)
    records.put(JobRecord("j2", "dedup", "running", 0.1, None, None, None, time.time(), None))
    records.close()
    assert JobRunner(records=JobRecords(location)).get("j2").status == "running"


def test_a_job_result_is_there_after_the_server_restarts(make_app: MakeApp, make_client: MakeClient) -> None:
    with TestClient(make_app()) as client:  # stopped, then started again below
        assert client.post("/v1/collections", json={"name": "c"}).status_code == 201
        dims = client.get("/v1/collections/c").json()["dimensions"]
        unit = [[1.0 if j == i else 0.0 for j in range(dims)] for i in range(3)]
        items = [{"id": f"v{i}", "vector": unit[i % 3]} for i in range(6)]  # v0 = v3, v1 = v4, v2 = v5
        assert client.post("/v1/collections/c/items", json={"items": items}).status_code == 200
        body = {"method": "semantic", "background": True}
        job_id = client.post("/v1/collections/c/dedup", json=body).json()["job_id"]
        for _ in range(200):
            first = client.get(f"/v1/jobs/{job_id}").json()
            if first["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
    assert first["status"] == "done", first
    assert sorted(sorted(g["members"]) for g in first["result"]["groups"]) == [
        ["v0", "v3"],
        ["v1", "v4"],
        ["v2", "v5"],
    ]
    client = make_client()
    after = client.get(f"/v1/jobs/{job_id}")
    assert after.status_code == 200 and after.json() == first
    missing = client.get("/v1/jobs/nope")
    assert missing.status_code == 404 and "unknown" in missing.json()["message"]
