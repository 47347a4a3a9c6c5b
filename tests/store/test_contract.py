"""One contract, every backend: the embedded store (memory and disk), Qdrant's local mode, and pgvector on a
throwaway PostgreSQL server (tests/postgres.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixembed.errors import Conflict, InvalidRequest, NotFound
from pixembed.store import Record, VectorStore, open_store, parse_filter
from tests.store.vectors import unit_rows

BACKENDS = ["embedded-memory", "embedded-disk", "qdrant-local", "pgvector"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    if request.param == "pgvector":
        location = request.getfixturevalue("postgres_uri")
    else:
        location = {
            "embedded-memory": ":memory:",
            "embedded-disk": str(tmp_path / "data"),
            "qdrant-local": "qdrant+local::memory:",
        }[request.param]
    opened = open_store(location)
    yield opened
    opened.close()


def _fill(store: VectorStore, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = unit_rows(rng.normal(size=(n, 16)))
    store.create_collection("items", "test-model", 16)
    colours = ["red", "green", "blue", "yellow"]
    records = [
        Record(
            f"id-{i}", vectors[i], {"n": i, "colour": colours[i % 4], "sale": i % 3 == 0, "price": i * 1.5}
        )
        for i in range(n)
    ]
    store.upsert("items", records)
    return vectors


def test_collection_lifecycle(store: VectorStore) -> None:
    info = store.create_collection("shoes", "ViT-B-32/openai", 512)
    assert (info.name, info.model, info.dimensions, info.count) == ("shoes", "ViT-B-32/openai", 512, 0)
    with pytest.raises(Conflict):
        store.create_collection("shoes", "ViT-B-32/openai", 512)
    store.create_collection("bags", "pixembed-tiny", 128)
    assert [c.name for c in store.list_collections()] == ["bags", "shoes"]
    store.delete_collection("shoes")
    with pytest.raises(NotFound):
        store.get_collection("shoes")
    with pytest.raises(NotFound):
        store.delete_collection("shoes")
    for bad in ("", "has space", "../etc", "x" * 65):
        with pytest.raises(InvalidRequest):
            store.create_collection(bad, "m", 4)


def test_upsert_get_replace_and_delete(store: VectorStore) -> None:
    vectors = _fill(store, 30)
    record = store.get("items", "id-7")
    np.testing.assert_allclose(record.vector, vectors[7], atol=1e-6)
    assert record.metadata == {"n": 7, "colour": "yellow", "sale": False, "price": 10.5}
    store.upsert("items", [Record("id-7", vectors[20] * 3, {"n": 700})])
    assert store.get_collection("items").count == 30
    replaced = store.get("items", "id-7")
    np.testing.assert_allclose(replaced.vector, vectors[20], atol=1e-6)  # stored normalised
    assert replaced.metadata == {"n": 700}
    top = store.search("items", vectors[20], 2)
    assert {m.id for m in top} == {"id-7", "id-20"}
    assert store.delete("items", ["id-7", "id-8", "missing"]) == 2
    assert store.get_collection("items").count == 28
    with pytest.raises(NotFound):
        store.get("items", "id-7")
    assert "id-8" not in {m.id for m in store.search("items", vectors[8], 5)}


def test_search_ranks_by_cosine(store: VectorStore) -> None:
    vectors = _fill(store, 200)
    matches = store.search("items", vectors[42], 10)
    assert matches[0].id == "id-42"
    assert matches[0].score == pytest.approx(1.0, abs=1e-5)
    expected = np.argsort(-(vectors @ vectors[42]))[:10]
    assert [m.id for m in matches] == [f"id-{i}" for i in expected]
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_wrong_dimension_and_bad_vectors_are_refused(store: VectorStore) -> None:
    _fill(store, 3)
    with pytest.raises(InvalidRequest, match="16-d"):
        store.upsert("items", [Record("x", np.ones(8, np.float32), {})])
    with pytest.raises(InvalidRequest):
        store.upsert("items", [Record("x", np.zeros(16, np.float32), {})])
    with pytest.raises(InvalidRequest):
        store.upsert("items", [Record("x", np.full(16, np.nan, np.float32), {})])
    with pytest.raises(InvalidRequest, match="16-d"):
        store.search("items", np.ones(8, np.float32), 3)
    with pytest.raises(InvalidRequest):
        store.upsert(
            "items", [Record("a", np.ones(16, np.float32), {}), Record("a", np.ones(16, np.float32), {})]
        )


def test_selective_filter_still_fills_top_k(store: VectorStore) -> None:
    vectors = _fill(store, 1000)
    where = parse_filter({"n": {"in": [3, 400, 401, 402, 999, 17, 18]}})
    matches = store.search("items", vectors[0], 5, where)
    assert len(matches) == 5
    assert all(m.metadata["n"] in {3, 400, 401, 402, 999, 17, 18} for m in matches)
    allowed = np.array([3, 400, 401, 402, 999, 17, 18])
    expected = allowed[np.argsort(-(vectors[allowed] @ vectors[0]))][:5]
    assert [m.id for m in matches] == [f"id-{i}" for i in expected]


FILTERS = st.dictionaries(
    st.sampled_from(["colour", "n", "sale", "price", "absent"]),
    st.one_of(
        st.sampled_from(["red", "blue", 3, 4.5, True, False]),
        st.fixed_dictionaries(
            {},
            optional={
                "ne": st.sampled_from(["red", 2, True]),
                "in": st.lists(st.sampled_from(["red", "green", 1, 2, 3, True]), min_size=1, max_size=3),
                "nin": st.lists(st.sampled_from(["red", "blue", 0, 6]), min_size=1, max_size=2),
                "gte": st.integers(0, 40),
                "lt": st.floats(0, 60, allow_nan=False),
            },
        ).filter(bool),
    ),
    max_size=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=FILTERS)
def test_filters_agree_with_the_reference_semantics(store: VectorStore, raw: dict[str, Any]) -> None:
    if not store.list_collections():
        _fill(store, 40)
    vectors = np.stack([store.get("items", f"id-{i}").vector for i in range(40)])
    where = parse_filter(raw)
    query = vectors[5]
    matches = store.search("items", query, 40, where)
    oracle = [i for i in range(40) if where is None or where.matches(store.get("items", f"id-{i}").metadata)]
    assert sorted(m.id for m in matches) == sorted(f"id-{i}" for i in oracle)


def test_bad_filters_are_refused() -> None:
    for raw in ([1], {"a": {"near": 3}}, {"a": {"in": []}}, {"a": {"gt": "x"}}, {"a": {}}, {'q"': 1}):
        with pytest.raises(InvalidRequest):
            parse_filter(raw)


def test_existing_reports_stored_ids_with_metadata(store: VectorStore) -> None:
    _fill(store, 5)
    found = store.existing("items", ["id-1", "id-4", "nope"])
    assert set(found) == {"id-1", "id-4"}
    assert found["id-4"]["n"] == 4


def test_scan_returns_every_record_once(store: VectorStore) -> None:
    vectors = _fill(store, 25)
    seen = [r for batch in store.scan("items", batch_size=7) for r in batch]
    assert sorted(r.id for r in seen) == sorted(f"id-{i}" for i in range(25))
    by_id = {r.id: r for r in seen}
    np.testing.assert_allclose(by_id["id-3"].vector, vectors[3], atol=1e-6)
    assert by_id["id-3"].metadata["n"] == 3
