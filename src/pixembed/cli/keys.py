"""``pixembed keys create|list|revoke``: API keys in the data directory's key store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pixembed.cli.app import DataDirOpt, app, err, make_settings
from pixembed.config import DEFAULT_MODEL
from pixembed.store.keys import KeyInfo, KeyStore

keys_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="API keys.")
app.add_typer(keys_app, name="keys")
KeyStoreOpt = Annotated[
    str | None, typer.Option(help="key store file (PIXEMBED_KEY_STORE; default DATA_DIR/keys.sqlite)")
]


def _open(data_dir: object, key_store: str | None) -> KeyStore:
    settings = make_settings(DEFAULT_MODEL, None, None, data_dir=data_dir, key_store=key_store)
    return KeyStore(settings.key_store_path)


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M") if timestamp else "-"


def _as_dict(info: KeyInfo) -> dict[str, object]:
    return {**info.__dict__, "scopes": list(info.scopes)}


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="who or what the key is for")],
    scopes: Annotated[str, typer.Option(help="comma-separated: read, write, admin")] = "read",
    quota: Annotated[str | None, typer.Option(help="calls per calendar period, e.g. 300/month")] = None,
    rate: Annotated[str | None, typer.Option(help="requests per unit time, e.g. 10/s")] = None,
    data_dir: DataDirOpt = None,
    key_store: KeyStoreOpt = None,
) -> None:
    """Create a key and print it once: only its hash is stored, so it cannot be shown again."""
    store = _open(data_dir, key_store)
    try:
        key, info = store.create(name, tuple(scopes.split(",")), quota, rate)
    finally:
        store.close()
    typer.echo(key)
    err.print(
        f"created key [bold]{info.name}[/] (id {info.id}, scopes {','.join(info.scopes)}, "
        f"quota {info.quota or 'none'}, rate {info.rate or 'none'}); store it now, it is not shown again"
    )


@keys_app.command("list")
def keys_list(
    include_revoked: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
    data_dir: DataDirOpt = None,
    key_store: KeyStoreOpt = None,
) -> None:
    """Names, ids, scopes, limits and usage of the keys; never their secrets."""
    store = _open(data_dir, key_store)
    try:
        infos = store.list(include_revoked)
    finally:
        store.close()
    if as_json:
        for info in infos:
            typer.echo(json.dumps(_as_dict(info)))
        return
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "quota", "used", "rate", "requests", "last used", "revoked"):
        table.add_column(column)
    for info in infos:
        table.add_row(
            info.id,
            info.name,
            ",".join(info.scopes),
            info.quota or "-",
            str(info.quota_used) if info.quota else "-",
            info.rate or "-",
            str(info.total_requests),
            _when(info.last_used_at),
            _when(info.revoked_at),
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="the key's id or name")],
    data_dir: DataDirOpt = None,
    key_store: KeyStoreOpt = None,
) -> None:
    """Revoke a key; a running server refuses it from its next request on."""
    store = _open(data_dir, key_store)
    try:
        info = store.revoke(key)
        admins_left = any("admin" in live.scopes for live in store.list())
    finally:
        store.close()
    err.print(f"revoked key [bold]{info.name}[/] (id {info.id})")
    if not admins_left:
        # Auth never falls open: the server stays closed; say how to get back in.
        err.print(
            "[yellow]no live admin key is left[/]: a server on this store keeps refusing requests without a "
            "key; create one with `pixembed keys create --scopes admin` (or use PIXEMBED_API_KEYS)"
        )
