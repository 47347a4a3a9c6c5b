"""Every SQLite file the server writes commits with synchronous=FULL, so an acknowledged write survives a
power loss, not only a process crash (the kill -9 tests cannot tell FULL from NORMAL: the OS still flushes).

The check is on the connections themselves (the pragma is per connection), recorded as the real app opens
them: items, keys, thumbnails and jobs, and any SQLite file a later change adds.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.factories import MakeClient

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
EXPECTED_FILES = {"pixembed.sqlite3", "keys.sqlite", "thumbnails.sqlite3", "jobs.sqlite3"}


def test_every_store_connection_runs_with_synchronous_full(
    make_client: MakeClient,
    shape_images: dict[str, list[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[tuple[str, sqlite3.Connection]] = []
    connect = sqlite3.connect

    def recording_connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(database, *args, **kwargs)
        opened.append((str(database), connection))
        return connection

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    client = make_client()
    owner = {"name": "owner", "scopes": ["read", "write", "admin"]}
    key = client.post("/v1/keys", json=owner).json()["key"]
    auth = {"Authorization": f"Bearer {key}"}
    assert client.post("/v1/collections", json={"name": "c"}, headers=auth).status_code == 201
    pictures = [data for images in shape_images.values() for data in images][:4]
    files = [("image", (f"{i}.png", data, "image/png")) for i, data in enumerate(pictures)]
    assert client.post("/v1/collections/c/items", files=files, headers=auth).status_code == 200
    job = client.post("/v1/collections/c/dedup", json={"background": True}, headers=auth).json()
    for _ in range(200):
        if client.get(f"/v1/jobs/{job['job_id']}", headers=auth).json()["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert {Path(path).name for path, _ in opened} >= EXPECTED_FILES
    for path, connection in opened:
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == FULL, path
