"""``open_store`` picks the backend from the location string, and says what to install when it is missing."""

from __future__ import annotations

import sys

import pytest

from pixembed.errors import InvalidRequest
from pixembed.store import open_store


def test_a_postgresql_store_without_the_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on the core install: psycopg cannot be imported (None in sys.modules makes the import fail).
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "pixembed.store.pgvector", raising=False)
    with pytest.raises(InvalidRequest, match=r"pixembed\[postgres\]"):
        open_store("postgresql://user@db.example/pixembed")


def test_an_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(InvalidRequest, match="postgresql://"):
        open_store("mysql://user@db.example/pixembed")
