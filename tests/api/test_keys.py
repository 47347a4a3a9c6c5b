"""API keys: hashed storage, scopes per route, exact quotas and rates under concurrency, 429 headers."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pixembed.api.state import state_of
from pixembed.config import Settings
from pixembed.errors import Conflict, InvalidRequest
from pixembed.store.keys import KeyStore
from tests.factories import MakeApp, MakeClient


class FakeClock:
    """A settable clock, so rate windows are tested without sleeping."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(make_app: MakeApp) -> FastAPI:
    return make_app()


@pytest.fixture
def keys(app: FastAPI) -> KeyStore:
    store: KeyStore = state_of(app).keys.store
    return store


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_is_long_random_and_stored_only_as_a_hash(tmp_path: Path) -> None:
    path = tmp_path / "keys.sqlite"
    store = KeyStore(path)
    key, info = store.create("ci", ("read",))
    other, _ = store.create("ci-2", ("read",))
    store.close()
    secret = key.split("_", 2)[2]
    assert len(secret) >= 32 and key != other  # token_urlsafe(24): 192 random bits
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in raw and key.encode() not in raw
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = KeyStore(path)
    assert reopened.authenticate(key) == reopened.get(info.id)
    assert reopened.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert reopened.authenticate(f"pxe_{info.id}_") is None
    assert reopened.authenticate("not-a-key") is None


def test_bad_names_scopes_and_limits_are_refused(keys: KeyStore) -> None:
    keys.create("dup")
    with pytest.raises(Conflict):
        keys.create("dup")
    for kwargs in ({"scopes": ("root",)}, {"quota": "lots"}, {"rate": "0/s"}, {"rate": "5/fortnight"}):
        with pytest.raises(InvalidRequest):
            keys.create("x", **kwargs)  # type: ignore[arg-type]


def test_with_no_keys_everything_is_open_and_a_first_key_turns_auth_on(
    http: TestClient, keys: KeyStore
) -> None:
    assert http.post("/v1/embed/text", json={"text": "a red circle"}).status_code == 200
    key, _ = keys.create("reader")
    refused = http.post("/v1/embed/text", json={"text": "a red circle"})
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "unauthorized",
        "message": "missing API key: send it as an Authorization: Bearer or x-api-key header",
        "status": 401,
    }
    assert http.post("/v1/embed/text", json={"text": "x"}, headers={"x-api-key": key}).status_code == 200
    assert http.post("/v1/embed/text", json={"text": "x"}, headers=bearer(key)).status_code == 200
    assert http.post("/v1/embed/text", json={"text": "x"}, headers=bearer(key + "x")).status_code == 401
    assert http.get("/healthz").status_code == 200 and http.get("/readyz").status_code == 200


def test_scopes_are_enforced_per_route(http: TestClient, keys: KeyStore) -> None:
    reader, _ = keys.create("reader", ("read",))
    writer, _ = keys.create("writer", ("read", "write"))
    admin, _ = keys.create("admin", ("admin",))
    created = http.post("/v1/collections", json={"name": "shop"}, headers=bearer(reader))
    assert created.status_code == 403
    assert created.json()["error"] == "forbidden" and "'write' scope" in created.json()["message"]
    assert http.post("/v1/collections", json={"name": "shop"}, headers=bearer(writer)).status_code == 201
    assert http.get("/v1/collections", headers=bearer(reader)).status_code == 200
    search = http.post("/v1/collections/shop/search", json={"text": "a red circle"}, headers=bearer(reader))
    assert search.status_code == 200
    assert http.delete("/v1/collections/shop", headers=bearer(reader)).status_code == 403
    assert http.get("/v1/keys", headers=bearer(writer)).status_code == 403
    assert http.post("/v1/embed/text", json={"text": "x"}, headers=bearer(admin)).status_code == 403
    listed = http.get("/v1/keys", headers=bearer(admin))
    assert listed.status_code == 200
    assert {k["name"] for k in listed.json()["keys"]} == {"reader", "writer", "admin"}
    assert all("key" not in k and "hash" not in k for k in listed.json()["keys"])
    assert http.delete("/v1/collections/shop", headers=bearer(writer)).status_code == 204


def test_environment_keys_keep_working_with_every_scope(make_client: MakeClient) -> None:
    client = make_client(api_keys=["env-secret-key"])
    assert client.post("/v1/embed/text", json={"text": "x"}).status_code == 401
    assert client.get("/v1/keys", headers=bearer("env-secret-key")).status_code == 200
    made = client.post("/v1/collections", json={"name": "c"}, headers={"x-api-key": "env-secret-key"})
    assert made.status_code == 201


def test_admin_routes_create_show_and_revoke_keys(http: TestClient, keys: KeyStore) -> None:
    admin, _ = keys.create("admin", ("admin",))
    made = http.post(
        "/v1/keys", json={"name": "app", "scopes": ["read"], "quota": "5/month"}, headers=bearer(admin)
    )
    assert made.status_code == 201
    new_key, key_id = made.json()["key"], made.json()["id"]
    for _ in range(2):
        assert http.post("/v1/embed/text", json={"text": "x"}, headers=bearer(new_key)).status_code == 200
    usage = http.get(f"/v1/keys/{key_id}", headers=bearer(admin)).json()
    assert (usage["total_requests"], usage["quota_used"], usage["quota"]) == (2, 2, "5/month")
    assert http.delete("/v1/keys/app", headers=bearer(admin)).json()["revoked_at"] is not None
    assert http.post("/v1/embed/text", json={"text": "x"}, headers=bearer(new_key)).status_code == 401
    assert http.get("/v1/keys/nope", headers=bearer(admin)).status_code == 404


def test_a_spent_quota_is_a_429_with_retry_after_and_rate_limit_headers(
    http: TestClient, keys: KeyStore
) -> None:
    key, _ = keys.create("small", ("read",), quota="2/month")
    first = http.post("/v1/embed/text", json={"text": "x"}, headers=bearer(key))
    assert first.headers["x-ratelimit-limit"] == "2" and first.headers["x-ratelimit-remaining"] == "1"
    assert http.post("/v1/embed/text", json={"text": "x"}, headers=bearer(key)).status_code == 200
    refused = http.post("/v1/embed/text", json={"text": "x"}, headers=bearer(key))
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited" and "quota" in refused.json()["message"]
    assert refused.headers["x-ratelimit-remaining"] == "0"
    reset = int(refused.headers["x-ratelimit-reset"])
    assert 0 < reset <= 31 * 86400 and int(refused.headers["retry-after"]) == reset
    assert refused.headers["x-request-id"]


def test_compat_routes_take_stored_keys_where_their_service_sends_them(
    http: TestClient, keys: KeyStore
) -> None:
    key, _ = keys.create("compat", ("read",), quota="3/month")
    assert http.post("/clip/embed_text", params={"api_key": key}, json={"text": "x"}).status_code == 200
    assert http.post("/clip/embed_text", json={"text": "x", "api_key": key}).status_code == 200
    nlp = http.post("/api/predict/nlp/p/e", headers={"key": key}, json={"inputs": ["x"]})
    assert nlp.status_code == 200
    spent = http.post("/api/predict/nlp/p/e", headers={"key": key}, json={"inputs": ["x"]})
    assert spent.status_code == 429
    assert spent.json()["status_code"] == 429 and spent.headers["retry-after"]
    assert http.post("/clip/embed_text", json={"text": "x", "api_key": "pxe_0_x"}).status_code == 401


def test_fifty_racing_requests_never_over_admit(app: FastAPI, keys: KeyStore) -> None:
    quota = 7
    key, info = keys.create("race", ("read",), quota=f"{quota}/month")

    async def race() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = {"text": "x"}
            calls = [client.post("/v1/embed/text", json=body, headers=bearer(key)) for _ in range(50)]
            return await asyncio.gather(*calls)

    statuses = Counter(r.status_code for r in asyncio.run(race()))
    assert statuses == {200: quota, 429: 50 - quota}
    assert keys.get(info.id).quota_used == quota


def test_separate_connections_racing_from_threads_admit_exactly_the_quota(tmp_path: Path) -> None:
    # Each KeyStore is its own SQLite connection, as two server processes would hold.
    path = tmp_path / "keys.sqlite"
    _, info = KeyStore(path).create("shared", ("read",), quota="20/day")
    stores = [KeyStore(path) for _ in range(5)]
    admitted: list[bool] = []
    lock = threading.Lock()

    def hammer(store: KeyStore) -> None:
        for _ in range(10):
            outcome = store.admit(info.id).allowed
            with lock:
                admitted.append(outcome)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 20 and len(admitted) == 50


def test_quota_and_rate_survive_a_restart_and_windows_roll_over(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "keys.sqlite"
    _, info = KeyStore(path, clock).create("k", ("read",), quota="3/day", rate="2/s")
    store = KeyStore(path, clock)
    assert [store.admit(info.id).allowed for _ in range(3)] == [True, True, False]  # the rate bites first
    clock.now += 1.0
    store.close()
    restarted = KeyStore(path, clock)  # the counters are on disk, not in the process
    results = [restarted.admit(info.id) for _ in range(2)]
    assert [r.allowed for r in results] == [True, False]
    assert results[1].refused_by == "quota"
    assert restarted.get(info.id).quota_used == 3
    clock.now += 86400  # the next UTC day starts a fresh quota
    assert restarted.admit(info.id).allowed
    assert restarted.get(info.id).quota_used == 1


def test_a_rate_limit_refills_at_its_rate(tmp_path: Path) -> None:
    clock = FakeClock()
    store = KeyStore(tmp_path / "k.sqlite", clock)
    _, info = store.create("k", ("read",), rate="10/s")
    burst = [store.admit(info.id) for _ in range(11)]
    assert [a.allowed for a in burst] == [True] * 10 + [False]
    assert burst[9].decision is not None and burst[9].decision.remaining == 0
    assert burst[10].decision is not None and burst[10].decision.retry_after_s == pytest.approx(0.1, abs=1e-5)
    clock.now += 0.1
    assert store.admit(info.id).allowed and not store.admit(info.id).allowed


ADMIN_BODY = {"name": "x", "scopes": ["read", "write", "admin"]}


def test_revoking_the_last_admin_key_is_refused_and_auth_never_falls_open(
    http: TestClient, keys: KeyStore
) -> None:
    # The attack of issue 14: with one admin key, revoke it, then mint an admin key anonymously.
    owner, _ = keys.create("owner", ("read", "write", "admin"))
    refused = http.delete("/v1/keys/owner", headers=bearer(owner))
    assert refused.status_code == 409
    assert refused.json()["error"] == "conflict"
    assert "last live admin key" in refused.json()["message"]
    assert "create another admin key first" in refused.json()["message"]
    assert http.post("/v1/keys", json=ADMIN_BODY).status_code == 401
    # With a second admin the first may go; the second is then the last one and stays.
    second = http.post("/v1/keys", json={**ADMIN_BODY, "name": "second"}, headers=bearer(owner)).json()["key"]
    assert http.delete("/v1/keys/owner", headers=bearer(second)).status_code == 200
    assert http.delete("/v1/keys/second", headers=bearer(second)).status_code == 409
    # An operator revoking every key from the CLI (another process) leaves the server closed, not open.
    keys.revoke("second")
    assert not keys.has_live_keys()
    anonymous = http.post("/v1/keys", json=ADMIN_BODY)
    assert anonymous.status_code == 401
    assert anonymous.json()["message"].startswith("missing API key")
    assert http.post("/v1/embed/text", json={"text": "a red circle"}).status_code == 401
    assert http.post("/v1/keys", json=ADMIN_BODY, headers=bearer(second)).status_code == 401


def test_the_first_key_created_anonymously_closes_the_server_for_good(
    http: TestClient, keys: KeyStore
) -> None:
    assert http.post("/v1/embed/text", json={"text": "x"}).status_code == 200  # no keys: open on loopback
    made = http.post("/v1/keys", json={"name": "reader", "scopes": ["read"]})
    assert made.status_code == 201
    keys.revoke("reader")  # even with no live key left, this process keeps asking for one
    assert http.post("/v1/embed/text", json={"text": "x"}).status_code == 401
    assert http.post("/v1/keys", json=ADMIN_BODY).status_code == 401


def test_a_server_started_on_a_store_whose_keys_are_all_revoked_is_closed(
    make_client: MakeClient, settings: Settings
) -> None:
    store = KeyStore(settings.key_store_path)
    store.create("old", ("admin",))
    store.revoke("old")
    store.close()
    client = make_client()
    assert client.post("/v1/keys", json=ADMIN_BODY).status_code == 401
    assert client.post("/v1/embed/text", json={"text": "x"}).status_code == 401
    assert client.get("/healthz").status_code == 200


def test_with_environment_keys_the_last_stored_admin_key_may_be_revoked(make_client: MakeClient) -> None:
    client = make_client(api_keys=["env-secret-key"])
    env = bearer("env-secret-key")
    assert client.post("/v1/keys", json={**ADMIN_BODY, "name": "stored"}, headers=env).status_code == 201
    assert client.delete("/v1/keys/stored", headers=env).status_code == 200  # the env key still admins
    assert client.post("/v1/keys", json=ADMIN_BODY).status_code == 401
    assert client.get("/v1/keys", headers=env).status_code == 200
