"""``pixembed keys create|list|revoke``: API keys in the data directory's key store."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from pixembed.cli.app import DataDirOpt, StateOpt, app, err, make_settings
from pixembed.config import DEFAULT_MODEL
from pixembed.store.keys import KeyInfo, KeyStore

keys_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="API keys.")
app.add_typer(keys_app, name="keys")
KeyStoreOpt = Annotated[
    str | None, typer.Option(help="key store file (PIXEMBED_KEY_STORE; default DATA_DIR/keys.sqlite)")
]


def _open(data_dir: object, key_store: str | None, state: str | None) -> closing[KeyStore]:
    """The key store the options name, closed when the ``with`` block ends."""
    settings = make_settings(DEFAULT_MODEL, None, None, data_dir=data_dir, key_store=key_store, state=state)
    # A PostgreSQL state (--state, PIXEMBED_STATE) holds the keys every replica on it checks.
    return closing(KeyStore(settings.state or settings.key_store_path))


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
    state: StateOpt = None,
) -> None:
    """Create a key and print it once: only its hash is stored, so it cannot be shown again."""
    with _open(data_dir, key_store, state) as store:
        key, info = store.create(name, tuple(scopes.split(",")), quota, rate)
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
    state: StateOpt = None,
) -> None:
    """Names, ids, scopes, limits and usage of the keys; never their secrets."""
    with _open(data_dir, key_store, state) as store:
        every = store.list(include_revoked=True)
    infos = every if include_revoked else [i for i in every if i.revoked_at is None]
    if as_json:
        for info in infos:
            typer.echo(json.dumps(_as_dict(info)))
        return
    Console().print(_table(infos, include_revoked))
    hidden = len(every) - len(infos)
    if hidden:
        err.print(f"{hidden} revoked key{'s' if hidden > 1 else ''} not shown: --all shows them")


def _limits(info: KeyInfo) -> str:
    quota = f"{info.quota_used} of {info.quota}" if info.quota else ""  # wraps at the spaces
    rate = f"rate {info.rate}" if info.rate else ""
    return "\n".join(part for part in (quota, rate) if part) or "-"


def _table(infos: list[KeyInfo], with_revoked: bool) -> Table:
    """Keys as a table that fits 80 columns: ids and scopes are never cut; names, limits and dates wrap."""
    # No padding: the box draws one space between columns.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=0)
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="fold", min_width=6, max_width=8)
    table.add_column("scopes", no_wrap=True)
    table.add_column("used, limits", width=12)
    table.add_column("calls", justify="right", no_wrap=True)
    table.add_column("last used", width=10)
    if with_revoked:
        table.add_column("revoked", width=10)
    for info in infos:
        row = [
            info.id,
            info.name,
            ",".join(info.scopes),
            _limits(info),
            str(info.total_requests),
            _when(info.last_used_at),
        ]
        table.add_row(*row, *([_when(info.revoked_at)] if with_revoked else []))
    return table


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="the key's id or name")],
    data_dir: DataDirOpt = None,
    key_store: KeyStoreOpt = None,
    state: StateOpt = None,
) -> None:
    """Revoke a key; a running server refuses it from its next request on."""
    with _open(data_dir, key_store, state) as store:
        info = store.revoke(key)
        admins_left = any("admin" in live.scopes for live in store.list())
    err.print(f"revoked key [bold]{info.name}[/] (id {info.id})")
    if not admins_left:
        # Auth never falls open: the server stays closed; say how to get back in.
        err.print(
            "[yellow]no live admin key is left[/]: a server on this store keeps refusing requests without a "
            "key; create one with `pixembed keys create --scopes admin` (or use PIXEMBED_API_KEYS)"
        )
