"""A query's scan split over threads (shards of the exact codes, shares of the probed lists) answers as
one scan would: the same exact ranking, filters included, and a cut-off that bounds what was left out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pixembed.store import parallel_scan
from pixembed.store.index import CollectionIndex
from pixembed.store.parallel_scan import ShardedCodes, merge
from tests.store.vectors import exact_top, filled_index, unit_rows


@pytest.fixture
def three_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split every scan, however small, three ways (an uneven split of the rowids and of the lists)."""
    monkeypatch.setattr(parallel_scan, "SCAN_THREADS", 3)
    monkeypatch.setattr(parallel_scan, "PARALLEL_MIN_CODES", 0)


@pytest.mark.usefixtures("three_threads")
def test_sharded_exact_search_and_filters_match_brute_force() -> None:
    rng = np.random.default_rng(11)
    vectors = unit_rows(rng.normal(size=(7000, 48)))
    index = filled_index(vectors, exact_max=10_000, batch=2000)
    index.remove(np.arange(0, 7000, 7, dtype=np.int64))  # removals land in every shard
    alive = np.setdiff1d(np.arange(7000), np.arange(0, 7000, 7))
    among = alive[alive % 5 != 0]
    for query in unit_rows(rng.normal(size=(25, 48))):
        assert index.search(query, 10)[0].tolist() == exact_top(vectors, query, 10, alive)
        assert index.search(query, 5, among)[0].tolist() == exact_top(vectors, query, 5, among)


@pytest.mark.usefixtures("three_threads")
def test_split_probing_finds_the_neighbours() -> None:
    rng = np.random.default_rng(12)
    centres = unit_rows(rng.normal(size=(60, 32)))
    vectors = unit_rows(centres[rng.integers(0, 60, 20_000)] + 0.5 * unit_rows(rng.normal(size=(20_000, 32))))
    index = filled_index(vectors, exact_max=1000, batch=2000)
    assert index.approximate
    queries = unit_rows(centres[rng.integers(0, 60, 40)] + 0.5 * unit_rows(rng.normal(size=(40, 32))))
    found = [set(index.search(q, 10)[0].tolist()) & set(exact_top(vectors, q, 10)) for q in queries]
    assert np.mean([len(f) / 10 for f in found]) >= 0.95


def test_concurrent_searches_with_filters_share_the_pool_safely() -> None:
    """Filtered scans from many request threads at once (FAISS swaps selectors inside its parameters)."""
    rng = np.random.default_rng(13)
    vectors = unit_rows(rng.normal(size=(40_000, 16)))
    index = CollectionIndex(16, exact_max=50_000)
    index.add(np.arange(40_000, dtype=np.int64), vectors)
    among = np.arange(0, 40_000, 2, dtype=np.int64)  # above EXACT_CANDIDATES_MAX: a selector scan
    queries = unit_rows(rng.normal(size=(24, 16)))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda q: index.search(q, 10, among)[0].tolist(), queries))
    assert answers == [exact_top(vectors, q, 10, among) for q in queries]


def test_merge_reports_the_best_score_any_left_out_vector_can_have() -> None:
    full = (np.array([[9.0, 7.0, 5.0]], np.float32), np.array([[1, 2, 3]], np.int64))
    partial = (np.array([[8.0, -np.inf, -np.inf]], np.float32), np.array([[4, -1, -1]], np.int64))
    merged = merge([full, partial], asked=3)
    assert sorted(merged.ids.tolist()) == [1, 2, 3, 4]
    assert merged.cutoff == 5.0  # only the full part may have held more
    assert merge([partial], asked=3).cutoff is None  # nothing left out anywhere


def test_sharded_codes_spread_rowids_and_forget_removed_ones() -> None:
    codes = ShardedCodes(8, shards=2)
    values = np.rint(np.random.default_rng(14).uniform(-127, 127, size=(10, 8))).astype(np.float32)
    codes.add_with_ids(values, np.arange(10, dtype=np.int64))
    codes.remove_ids(np.array([0, 3, 42], dtype=np.int64))
    assert codes.ntotal == 8
    found = codes.search(values[5], 20)
    assert found.cutoff is None and sorted(found.ids.tolist()) == [1, 2, 4, 5, 6, 7, 8, 9]
    scores = dict(zip(found.ids.tolist(), found.estimates.tolist(), strict=True))
    assert scores == {i: float(values[i] @ values[5]) for i in [1, 2, 4, 5, 6, 7, 8, 9]}
