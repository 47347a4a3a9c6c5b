"""Schema versions: state files written before versions were kept open and are brought up to date, and
replicas creating the schema at the same moment do not trip over each other."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from pixembed.store.job_records import INTERRUPTED, JobRecords
from pixembed.store.keys import KeyStore
from pixembed.store.state import open_state, sqlite_locations
from pixembed.store.thumbnails import ThumbnailStore
from tests.state.conftest import OpenState

OLD_JOBS = """
CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL,
    result TEXT, error_code TEXT, error_message TEXT, owner_pid INTEGER NOT NULL, created_at REAL NOT NULL,
    finished_at REAL);
"""
OLD_THUMBNAILS = """
CREATE TABLE thumbnails (collection TEXT NOT NULL, item_id TEXT NOT NULL, media_type TEXT NOT NULL,
    data BLOB NOT NULL, PRIMARY KEY (collection, item_id)) WITHOUT ROWID;
"""


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_files_from_before_schema_versions_are_migrated(tmp_path: Path) -> None:
    jobs_file, thumbs_file = tmp_path / "jobs.sqlite3", tmp_path / "thumbnails.sqlite3"
    with sqlite3.connect(jobs_file) as db:
        db.executescript(OLD_JOBS)
        db.execute(
            "INSERT INTO jobs VALUES ('old', 'dedup', 'running', 0.5, NULL, NULL, NULL, ?, ?, NULL)",
            (_dead_pid(), time.time()),
        )
    with sqlite3.connect(thumbs_file) as db:
        db.executescript(OLD_THUMBNAILS)
        db.execute("INSERT INTO thumbnails VALUES ('c', 'a', 'image/webp', x'00')")

    records = JobRecords(str(jobs_file))
    old = records.get("old")
    assert old is not None and (old.status, old.error_message) == ("failed", INTERRUPTED)
    records.close()
    thumbnails = ThumbnailStore(str(thumbs_file))
    assert thumbnails.get("c", "a").vector is None  # kept, and served for any version of its item
    thumbnails.close()
    with sqlite3.connect(jobs_file) as db:
        assert {row[1] for row in db.execute("PRAGMA table_info(jobs)")} >= {"owner_host"}
        assert dict(db.execute("SELECT kind, version FROM pixembed_schema")) == {"jobs": 2}
    JobRecords(str(jobs_file)).close()  # opening again migrates nothing twice


def test_replicas_creating_the_schema_at_once_all_succeed(open_same: OpenState) -> None:
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_everything() -> None:
        start.wait()
        try:
            state = open_same()
            state.keys.list(), state.jobs.get("x"), state.thumbnails.delete_collection("x")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_everything) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []


def test_a_key_file_from_before_versions_keeps_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite"
    key, _ = KeyStore(path).create("ci")
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE pixembed_schema")  # as a file written before versions were kept
    reopened = KeyStore(path)
    assert reopened.authenticate(key) is not None
    reopened.close()


def test_postgresql_tables_stay_in_their_own_schema(postgres_uri: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        # Another application's tables of the same names, in the database's default schema.
        conn.execute("CREATE TABLE keys (other_app INTEGER); CREATE TABLE jobs (other_app INTEGER)")
    state = open_state(postgres_uri, sqlite_locations(":memory:", ":memory:", Path(".")))
    try:
        key, _ = state.keys.create("ci")
        assert state.keys.authenticate(key) is not None and state.jobs.get("x") is None
    finally:
        state.close()
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM public.keys").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pixembed.keys").fetchone() == (1,)
