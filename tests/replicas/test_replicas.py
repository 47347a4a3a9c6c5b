"""Three replicas on one PostgreSQL behave as one service (issue 21): what is written through one (a
collection, an item, a thumbnail, a key, a revocation, a job) is seen through the others, a quota holds
across them, and a replica killed mid-write loses nothing it acknowledged."""

from __future__ import annotations

import io
import os
import signal
import threading
import time

import numpy as np
import pytest
from PIL import Image

from pixembed.synthetic.shapes import render_shape
from tests.replicas.conftest import REPLICAS, Replicas

pytestmark = pytest.mark.slow


def test_collections_and_items_written_through_one_are_seen_through_all(replicas: Replicas) -> None:
    with replicas.client(0) as first:
        assert first.post("/v1/collections", json={"name": "shared"}).status_code == 201
        dims = first.get("/v1/collections/shared").json()["dimensions"]
        vector = np.random.default_rng(0).normal(size=dims).tolist()
        added = first.post(
            "/v1/collections/shared/items",
            json={"items": [{"id": "one", "vector": vector, "metadata": {"colour": "red"}}]},
        )
        assert added.status_code == 200, added.text
    for index in range(1, REPLICAS):
        with replicas.client(index) as other:
            names = [c["name"] for c in other.get("/v1/collections").json()["data"]]
            assert "shared" in names
            item = other.get("/v1/collections/shared/items/one")
            assert item.status_code == 200 and item.json()["metadata"] == {"colour": "red"}
            found = other.post(
                "/v1/collections/shared/search",
                json={"vector": vector, "top_k": 1, "filter": {"colour": "red"}},
            )
            assert [r["id"] for r in found.json()["results"]] == ["one"]
            assert other.post("/v1/collections", json={"name": "shared"}).status_code == 409


def test_a_thumbnail_made_through_one_replica_is_served_by_another(replicas: Replicas) -> None:
    image = io.BytesIO()
    render_shape("circle", "red", size=160, rng=np.random.default_rng(0)).save(image, "PNG")
    with replicas.client(0) as first:
        assert first.post("/v1/collections", json={"name": "pictures"}).status_code == 201
        added = first.post(
            "/v1/collections/pictures/items",
            files={"image": ("red.png", image.getvalue(), "image/png")},
            data={"id": "red"},
        )
        assert added.status_code == 200, added.text
    with replicas.client(1) as other:
        thumbnail = other.get("/v1/collections/pictures/items/red/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumbnail.content)) as shown:
        assert shown.format == "JPEG" and max(shown.size) <= 256


def _writer(replicas: Replicas, dims: int, acked: dict[str, list[float]], stop: threading.Event) -> None:
    rng = np.random.default_rng(7)
    batch_no = 0
    with replicas.client(2) as http:
        while not stop.is_set():
            vectors = rng.normal(size=(8, dims))
            items = [{"id": f"b{batch_no}-{i}", "vector": v.tolist()} for i, v in enumerate(vectors)]
            try:
                response = http.post("/v1/collections/durable/items", json={"items": items})
            except Exception:  # the replica died mid-request: that batch was never acknowledged
                return
            if response.is_success:
                acked.update((item["id"], item["vector"]) for item in items)
            batch_no += 1


def test_kill_9_of_a_replica_mid_ingest_loses_no_acknowledged_item(replicas: Replicas) -> None:
    with replicas.client(0) as first:
        assert first.post("/v1/collections", json={"name": "durable"}).status_code == 201
        dims = first.get("/v1/collections/durable").json()["dimensions"]
    acked: dict[str, list[float]] = {}
    stop = threading.Event()
    writer = threading.Thread(target=_writer, args=(replicas, dims, acked, stop))
    writer.start()
    deadline = time.monotonic() + 30
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(replicas.processes[2].process.pid, signal.SIGKILL)
    replicas.processes[2].process.wait()
    stop.set()
    writer.join(timeout=30)
    assert len(acked) >= 40, "the writer got too few batches acknowledged before the kill"
    with replicas.client(1) as other:
        count = other.get("/v1/collections/durable").json()["count"]
        assert count >= len(acked)
        missing = [
            item_id
            for item_id in acked
            if other.get(f"/v1/collections/durable/items/{item_id}").status_code != 200
        ]
        assert missing == []
        last = list(acked)[-1]
        hit = other.post("/v1/collections/durable/search", json={"vector": acked[last], "top_k": 1})
        assert hit.json()["results"][0]["id"] == last
    replicas.restart(2)


def _create_key(replicas: Replicas, via: int, **fields: object) -> tuple[str, str]:
    with replicas.client(via) as admin:
        created = admin.post("/v1/keys", json={"scopes": ["read"], **fields})
    assert created.status_code == 201, created.text
    return created.json()["key"], created.json()["id"]


def test_racing_requests_over_all_replicas_admit_exactly_the_quota(replicas: Replicas) -> None:
    key, key_id = _create_key(replicas, 0, name="quota-20", quota="20/day")
    clients = [replicas.client(i % REPLICAS, key) for i in range(REPLICAS)]
    start = threading.Barrier(50)
    statuses: list[int] = []

    def call(index: int) -> None:
        start.wait()
        statuses.append(clients[index % REPLICAS].get("/v1/collections").status_code)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert sorted(statuses) == [200] * 20 + [429] * 30
    with replicas.client(2) as admin:
        assert admin.get(f"/v1/keys/{key_id}").json()["quota_used"] == 20


def test_a_key_revoked_through_one_replica_is_refused_by_all_within_a_second(replicas: Replicas) -> None:
    key, key_id = _create_key(replicas, 0, name="to-revoke")
    users = [replicas.client(i, key) for i in range(REPLICAS)]
    try:
        assert [u.get("/v1/collections").status_code for u in users] == [200] * REPLICAS
        with replicas.client(1) as admin:
            assert admin.delete(f"/v1/keys/{key_id}").status_code == 200
        revoked_at = time.monotonic()
        refused_after: list[float] = []
        for user in users:
            while user.get("/v1/collections").status_code != 401:
                assert time.monotonic() - revoked_at < 1.0, f"{user.base_url} still admits the revoked key"
                time.sleep(0.02)
            refused_after.append(time.monotonic() - revoked_at)
        assert max(refused_after) < 1.0
    finally:
        for user in users:
            user.close()


def test_a_job_submitted_on_one_replica_is_read_on_another(replicas: Replicas) -> None:
    with replicas.client(0) as first:
        assert first.post("/v1/collections", json={"name": "jobs"}).status_code == 201
        dims = first.get("/v1/collections/jobs").json()["dimensions"]
        rng = np.random.default_rng(3)
        twin, other = rng.normal(size=dims).tolist(), rng.normal(size=dims).tolist()
        items = [{"id": "a", "vector": twin}, {"id": "b", "vector": twin}, {"id": "c", "vector": other}]
        assert first.post("/v1/collections/jobs/items", json={"items": items}).status_code == 200
        submitted = first.post("/v1/collections/jobs/dedup", json={"method": "semantic", "background": True})
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["job_id"]
    with replicas.client(1) as second:
        deadline = time.monotonic() + 60
        while True:
            job = second.get(f"/v1/jobs/{job_id}")
            assert job.status_code == 200, job.text
            if job.json()["status"] in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert job.json()["status"] == "done", job.json()
    pairs = job.json()["result"]["pairs"]
    assert [sorted((p["a"], p["b"])) for p in pairs] == [["a", "b"]]
