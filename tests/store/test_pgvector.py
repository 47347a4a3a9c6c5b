"""What pgvector adds beyond the shared contract: the HNSW index is used, filters are parameters (never SQL
text), two stores on one database behave as one, and driver failures are pixembed errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from pixembed.errors import Conflict, InvalidRequest, NotFound, Unavailable
from pixembed.store import Record, open_store, parse_filter
from tests.store.vectors import unit_rows

psycopg = pytest.importorskip("psycopg", reason="pip install -e '.[postgres]'")
from pixembed.store.pgvector import (  # noqa: E402
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    PgVectorStore,
    check_pgvector_version,
)


@pytest.fixture
def store(postgres_uri: str) -> Iterator[PgVectorStore]:
    opened = open_store(postgres_uri)
    assert isinstance(opened, PgVectorStore)
    yield opened
    opened.close()


def _fill(store: PgVectorStore, n: int, dims: int = 32) -> np.ndarray:
    vectors = unit_rows(np.random.default_rng(1).normal(size=(n, dims)))
    store.create_collection("items", "m", dims)
    store.upsert("items", [Record(f"id-{i}", vectors[i], {"n": i}) for i in range(n)])
    return vectors


def test_collections_get_an_hnsw_index_with_the_stated_parameters(
    store: PgVectorStore, postgres_uri: str
) -> None:
    vectors = _fill(store, 2000)
    with psycopg.connect(postgres_uri) as conn:
        (definition,) = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexdef LIKE '%hnsw%'"
        ).fetchone() or ("",)
        assert "vector_cosine_ops" in definition
        assert f"m='{HNSW_M}'" in definition and f"ef_construction='{HNSW_EF_CONSTRUCTION}'" in definition
        table, index = conn.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE indexdef LIKE '%hnsw%'"
        ).fetchone() or ("", "")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                f"EXPLAIN SELECT id FROM {table} ORDER BY vector <=> %s::vector LIMIT 10",
                [str(vectors[0].tolist())],
            ).fetchall()
        )
    assert f"Index Scan using {index}" in plan
    matches = store.search("items", vectors[0], 10)
    truth = np.argsort(-(vectors @ vectors[0]))[:10]
    assert len({m.id for m in matches} & {f"id-{i}" for i in truth}) >= 9


def test_filter_keys_and_values_are_parameters_not_sql(store: PgVectorStore) -> None:
    vectors = _fill(store, 20)
    hostile = "n'); DROP TABLE pixembed_vector_collections; --"
    assert store.search("items", vectors[0], 5, parse_filter({hostile: 1})) == []
    assert store.search("items", vectors[0], 5, parse_filter({"n": {"in": [hostile, 3]}}))[0].id == "id-3"
    assert len(store.search("items", vectors[0], 50, parse_filter({hostile: {"ne": "x"}}))) == 20
    assert store.get_collection("items").count == 20


def test_two_stores_on_one_database_act_as_one(store: PgVectorStore, postgres_uri: str) -> None:
    other = PgVectorStore(postgres_uri)
    try:
        vectors = _fill(store, 5)
        assert other.get("items", "id-3").metadata == {"n": 3}
        other.upsert("items", [Record("new", vectors[0], {"by": "other"})])
        assert store.existing("items", ["new"]) == {"new": {"by": "other"}}
        # Racing creates of one name: exactly one wins, the rest are told the name is taken.
        outcomes: list[str] = []

        def create(target: PgVectorStore) -> None:
            try:
                target.create_collection("raced", "m", 8)
                outcomes.append("created")
            except Conflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=create, args=(s,)) for s in (store, other) * 4]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["conflict"] * 7 + ["created"]
    finally:
        other.close()


def test_data_postgres_cannot_hold_is_a_400(store: PgVectorStore) -> None:
    vectors = _fill(store, 2)
    with pytest.raises(InvalidRequest):
        store.upsert("items", [Record("nul", vectors[0], {"text": "a\x00b"})])
    with pytest.raises(InvalidRequest):
        store.upsert("items", [Record("a\x00b", vectors[0], {})])
    assert store.get_collection("items").count == 2


def test_an_unreachable_server_is_unavailable(tmp_path: object) -> None:
    with pytest.raises(Unavailable, match="cannot reach"):
        open_store(f"postgresql://nobody@/none?host={tmp_path}&connect_timeout=2")


def test_wide_vectors_without_an_index_are_searched_exactly(store: PgVectorStore) -> None:
    vectors = unit_rows(np.random.default_rng(2).normal(size=(30, 2048)))
    store.create_collection("wide", "m", 2048)
    store.upsert("wide", [Record(str(i), vectors[i], {}) for i in range(30)])
    assert [m.id for m in store.search("wide", vectors[4], 3)] == [
        str(i) for i in np.argsort(-(vectors @ vectors[4]))[:3]
    ]


def test_overlapping_batches_from_two_replicas_never_deadlock(
    store: PgVectorStore, postgres_uri: str
) -> None:
    other = PgVectorStore(postgres_uri)
    vectors = unit_rows(np.random.default_rng(3).normal(size=(200, 8)))
    store.create_collection("items", "m", 8)
    ids = [f"id-{i:03d}" for i in range(200)]
    errors: list[Exception] = []

    def write(target: PgVectorStore, backwards: bool) -> None:
        for round_no in range(4):
            order = ids[::-1] if backwards else ids
            try:
                target.upsert("items", [Record(i, vectors[int(i[3:])], {"round": round_no}) for i in order])
                target.delete("items", order[::7])
            except Exception as exc:  # anything at all is a failure here
                errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(target, backwards))
        for target, backwards in ((store, False), (other, True), (store, True), (other, False))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    assert errors == []
    # The kept count matches the rows, though replicas raced inserts, replacements and deletes.
    stored = sum(len(batch) for batch in store.scan("items"))
    assert 0 < stored <= 200
    assert store.get_collection("items").count == other_count(postgres_uri) == stored


def other_count(uri: str) -> int:
    """The collection's count as a fresh store (another replica) reads it."""
    fresh = PgVectorStore(uri)
    try:
        return fresh.get_collection("items").count
    finally:
        fresh.close()


def test_writes_racing_a_collection_drop_end_in_not_found(store: PgVectorStore, postgres_uri: str) -> None:
    other = PgVectorStore(postgres_uri)
    vectors = _fill(store, 10)
    outcomes: list[str] = []
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            try:
                other.upsert("items", [Record("x", vectors[0], {})])
                other.search("items", vectors[0], 3)
                outcomes.append("ok")
            except NotFound:
                outcomes.append("not found")
                return

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.3)
    store.delete_collection("items")
    writer.join(timeout=10)
    stop.set()
    other.close()
    assert outcomes[-1] == "not found" and "ok" in outcomes


def test_pgvector_before_0_8_is_refused_with_what_to_do() -> None:
    for good in ("0.8.0", "0.8.5", "1.0"):
        check_pgvector_version(good)
    for old in ("0.7.4", "0.5.1", "", "dev"):
        with pytest.raises(Unavailable, match=r"0\.8 or later"):
            check_pgvector_version(old)
