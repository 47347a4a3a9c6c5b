"""``pixembed keys create|list|revoke`` and ``serve``'s refusal to expose an unkeyed server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixembed.cli import app
from pixembed.store.keys import KeyStore

runner = CliRunner()


def test_create_list_and_revoke(tmp_path: Path) -> None:
    made = runner.invoke(
        app,
        ["keys", "create", "--name", "ci", "--scopes", "read,write", "--quota", "300/month", "--rate",
         "10/s", "--data-dir", str(tmp_path)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[0]
    assert key.startswith("pxe_")
    store = KeyStore(tmp_path / "keys.sqlite")
    info = store.authenticate(key)
    assert info is not None and info.scopes == ("read", "write")
    store.admit(info.id)
    listed = runner.invoke(app, ["keys", "list", "--json", "--data-dir", str(tmp_path)])
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["name"], row["quota"], row["rate"], row["quota_used"]) == ("ci", "300/month", "10/s", 1)
    assert key.split("_", 2)[2] not in listed.stdout
    table = runner.invoke(app, ["keys", "list", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert "ci" in table.stdout and "300/month" in table.stdout
    revoked = runner.invoke(app, ["keys", "revoke", "ci", "--data-dir", str(tmp_path)])
    assert revoked.exit_code == 0
    assert "no live admin key is left" in revoked.stderr
    assert store.authenticate(key) is None
    assert runner.invoke(app, ["keys", "list", "--json", "--data-dir", str(tmp_path)]).stdout == ""


def test_a_bad_limit_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["keys", "create", "--name", "x", "--rate", "fast", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "COUNT/UNIT" in str(result.exception)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_serve_refuses_a_public_address_without_keys(
    tmp_path: Path, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIXEMBED_API_KEYS", raising=False)
    result = runner.invoke(app, ["serve", "--host", host, "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "refusing to listen" in str(result.exception)
    assert "--insecure-no-auth" in str(result.exception)


def test_a_stored_key_counts_as_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pixembed.cli.app import _any_keys, make_settings

    monkeypatch.delenv("PIXEMBED_API_KEYS", raising=False)
    settings = make_settings("pixembed-tiny", None, None, data_dir=tmp_path)
    assert not _any_keys(settings)
    store = KeyStore(settings.key_store_path)
    store.create("ops")
    assert _any_keys(settings)
    store.revoke("ops")
    assert _any_keys(settings)  # a store that had keys keeps the server closed, so it may listen publicly
