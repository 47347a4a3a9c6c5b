"""The PostgreSQL the tests start: reachable, with pgvector, one empty database per test."""

from __future__ import annotations

import pytest


def test_each_test_gets_an_empty_database_with_pgvector(postgres_uri: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        distance = conn.execute("SELECT '[1,0]'::vector <=> '[0,1]'::vector").fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert tables == (0,)
    assert distance is not None and distance[0] == pytest.approx(1.0)
    # Unix socket only: no TCP address is listened on.
    assert listen == ("",)
