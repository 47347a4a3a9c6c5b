"""Servers on one PostgreSQL state (``--state``, ``PIXEMBED_STATE``): keys, revocations and quotas seen by
all of them; a server with another model than the replicas already there refuses to start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixembed.cli import app as cli_app
from pixembed.errors import NotFound, SettingsMismatch
from pixembed.runtime.model import ClipModel
from pixembed.store.keys import KeyStore
from pixembed.store.replica_settings import ReplicaSettings
from pixembed.store.thumbnails import ThumbnailStore
from tests.factories import MakeApp, MakeClient

ROOT = Path(__file__).resolve().parents[2]


def test_two_servers_on_one_state_share_keys_revocations_and_quota(
    make_client: MakeClient, postgres_uri: str, tmp_path: Path
) -> None:
    one = make_client(state=postgres_uri, data_dir=tmp_path / "one")
    other = make_client(state=postgres_uri, data_dir=tmp_path / "two")
    owner = one.post("/v1/keys", json={"name": "owner", "scopes": ["read", "write", "admin"]}).json()["key"]
    admin = {"Authorization": f"Bearer {owner}"}
    # The key made through one server works on the other, which now asks for keys too.
    assert other.get("/v1/collections").status_code == 401
    assert other.get("/v1/collections", headers=admin).status_code == 200

    made = other.post("/v1/keys", json={"name": "metered", "quota": "3/day"}, headers=admin).json()
    metered = {"Authorization": f"Bearer {made['key']}"}
    statuses = [c.get("/v1/collections", headers=metered).status_code for c in (one, other, one, other)]
    assert statuses == [200, 200, 200, 429]

    assert one.delete(f"/v1/keys/{made['id']}", headers=admin).status_code == 200
    refused = other.get("/v1/collections", headers=metered)
    assert refused.status_code == 401 and "invalid API key" in refused.text


def test_servers_with_the_same_model_share_a_state(
    make_client: MakeClient, postgres_uri: str, tiny_model: ClipModel, tmp_path: Path
) -> None:
    make_client(state=postgres_uri, data_dir=tmp_path / "first")  # records the tiny model
    second = make_client(state=postgres_uri, data_dir=tmp_path / "second")  # the same model: welcome
    assert second.get("/readyz").status_code == 200
    assert _recorded(postgres_uri) == {
        "model": tiny_model.info.name,
        "dimensions": str(tiny_model.info.dimensions),
    }


def test_the_app_refuses_a_model_the_replicas_do_not_run(
    make_app: MakeApp, postgres_uri: str, tiny_model: ClipModel, tmp_path: Path
) -> None:
    _record(postgres_uri, {"model": "ViT-B-32/openai", "dimensions": "512"})
    with pytest.raises(SettingsMismatch, match="ViT-B-32/openai") as refused:
        make_app(state=postgres_uri, data_dir=tmp_path)
    assert f"model {tiny_model.info.name}" in refused.value.message
    assert not (tmp_path / "keys.sqlite").exists()


def _record(uri: str, values: dict[str, str]) -> None:
    settings = ReplicaSettings(uri)
    try:
        settings.agree(values)
    finally:
        settings.close()


def _recorded(uri: str) -> dict[str, str]:
    settings = ReplicaSettings(uri)
    try:
        return settings.recorded()
    finally:
        settings.close()


def test_serve_exits_with_a_clear_error_when_the_model_differs(postgres_uri: str, tmp_path: Path) -> None:
    _record(postgres_uri, {"model": "ViT-L-14/openai", "dimensions": "768"})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PIXEMBED_STATE": postgres_uri}
    result = subprocess.run(
        [sys.executable, "-m", "pixembed", "serve", "--model", "pixembed-tiny", "--port", str(port),
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ViT-L-14/openai" in result.stderr and "replica_settings" in result.stderr
    assert "Traceback" not in result.stderr


def test_keys_cli_works_on_the_shared_state(postgres_uri: str, tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(
        cli_app, ["keys", "create", "--name", "ops", "--state", postgres_uri, "--data-dir", str(tmp_path)]
    )
    assert made.exit_code == 0, made.output
    listed = runner.invoke(cli_app, ["keys", "list", "--json"], env={"PIXEMBED_STATE": postgres_uri})
    assert '"name": "ops"' in listed.stdout
    assert not (tmp_path / "keys.sqlite").exists()  # nothing went to the SQLite default


def test_a_model_loaded_at_startup_is_checked_against_the_replicas_too(
    make_client: MakeClient, postgres_uri: str, tmp_path: Path
) -> None:
    _record(postgres_uri, {"model": "ViT-B-32/openai", "dimensions": "512"})
    # model=None: the app loads the configured model (the tiny one) in its lifespan, then checks it.
    with pytest.raises(SettingsMismatch, match="ViT-B-32/openai"):
        make_client(model=None, state=postgres_uri, data_dir=tmp_path)


def test_a_job_submitted_through_one_server_is_polled_through_another(
    make_client: MakeClient, postgres_uri: str, tmp_path: Path, tiny_model: ClipModel
) -> None:
    one = make_client(state=postgres_uri, data_dir=tmp_path / "one")
    other = make_client(state=postgres_uri, data_dir=tmp_path / "two")
    assert one.post("/v1/collections", json={"name": "c"}).status_code == 201
    base = np.eye(tiny_model.info.dimensions, dtype=np.float32)
    items = [
        {"id": "a", "vector": base[0].tolist()},
        {"id": "a-copy", "vector": (base[0] + 0.01 * base[1]).tolist()},
        {"id": "b", "vector": base[2].tolist()},
    ]
    assert one.post("/v1/collections/c/items", json={"items": items}).status_code == 200
    accepted = one.post("/v1/collections/c/dedup", json={"method": "semantic", "background": True})
    assert accepted.status_code == 202
    # Polled through the other server only: it answers from the shared records.
    ends = time.monotonic() + 60
    while time.monotonic() < ends:
        seen = other.get(accepted.json()["status_url"])
        if seen.status_code != 200 or seen.json()["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert seen.status_code == 200
    job = seen.json()
    assert one.get(accepted.json()["status_url"]).json() == job
    assert job["status"] == "done" and [sorted(g["members"]) for g in job["result"]["groups"]] == [
        ["a", "a-copy"]
    ]


def test_serve_counts_the_keys_of_the_shared_state_before_opening_a_public_address(
    postgres_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIXEMBED_API_KEYS", raising=False)
    runner = CliRunner()
    # A documentation address (TEST-NET-1): not loopback, so keys are required, and not this machine's, so
    # a serve that gets past the key check stops at the port check without listening anywhere.
    serve = ["serve", "--host", "192.0.2.1", "--data-dir", str(tmp_path)]
    refused = runner.invoke(cli_app, [*serve, "--state", postgres_uri])
    assert "refusing to listen" in str(refused.exception)  # no key anywhere yet
    _create_key(postgres_uri)
    passed = runner.invoke(cli_app, [*serve, "--state", postgres_uri])
    assert "cannot listen on 192.0.2.1" in str(passed.exception)  # past the key check: the state has one
    assert "refusing to listen" in str(runner.invoke(cli_app, serve).exception)  # SQLite: no key there


def _create_key(uri: str) -> None:
    keys = KeyStore(uri)
    try:
        keys.create("ops", ("admin",))
    finally:
        keys.close()


def test_index_and_delete_from_the_cli_keep_thumbnails_in_the_shared_state(
    postgres_uri: str, tmp_path: Path
) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for name, colour in (("red.png", "red"), ("blue.png", "blue")):
        Image.new("RGB", (64, 48), colour).save(folder / name)
    data = ["--data-dir", str(tmp_path / "data"), "--state", postgres_uri]
    runner = CliRunner()
    indexed = runner.invoke(cli_app, ["index", str(folder), "-c", "c", "--model", "pixembed-tiny", *data])
    assert indexed.exit_code == 0, indexed.output
    thumbnails = ThumbnailStore(postgres_uri)
    try:
        assert thumbnails.get("c", "red.png").media_type.startswith("image/")
        assert not (tmp_path / "data" / "thumbnails.sqlite3").exists()
        assert runner.invoke(cli_app, ["collections", "delete", "c", "--yes", *data]).exit_code == 0
        with pytest.raises(NotFound):
            thumbnails.get("c", "red.png")
    finally:
        thumbnails.close()
