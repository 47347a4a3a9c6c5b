"""CollectionIndex: the int8 scan + float32 re-rank is exact below exact_max, the inverted file above it finds
the neighbours, and filters still return top-k."""

from __future__ import annotations

import numpy as np
import pytest

from pixembed.store import index as index_module
from pixembed.store.index import CollectionIndex
from tests.store.vectors import assert_ranked_exactly, clustered, exact_top, filled_index, unit_rows


def test_exact_mode_returns_the_brute_force_ranking() -> None:
    vectors = clustered(6000, 64, 1)
    index = filled_index(vectors, exact_max=10_000)
    assert not index.approximate
    for query in clustered(40, 64, 2):
        ids, scores = index.search(query, 10)
        assert ids.tolist() == exact_top(vectors, query, 10)
        assert np.allclose(scores, vectors[ids] @ query, atol=1e-5)


def test_near_ties_and_badly_coded_vectors_are_still_ranked_exactly() -> None:
    base = unit_rows(np.random.default_rng(3).normal(size=(1, 64)))
    # 3000 vectors within rounding distance of each other: the int8 scan cannot separate them.
    near = unit_rows(base + 2e-3 * np.random.default_rng(4).normal(size=(3000, 64)))
    index = filled_index(near, exact_max=10_000)
    # A vector far outside the fitted range of one dimension is clipped by the codes.
    spike = np.zeros((1, 64), np.float32)
    spike[0, 5] = 1.0
    index.add(np.array([3000]), spike)
    vectors = np.concatenate([near, spike])
    for query in [base[0], near[17], spike[0], unit_rows(spike + 0.2 * base)[0]]:
        assert_ranked_exactly(vectors, query, index.search(query, 10)[0].tolist(), 10)


def test_a_large_filter_in_exact_mode_returns_the_best_of_the_candidates() -> None:
    vectors = clustered(25_000, 16, 5)
    index = filled_index(vectors, exact_max=30_000, batch=5000)
    candidates = np.arange(0, 25_000, 1, dtype=np.int64)[np.arange(25_000) % 10 != 0]
    assert len(candidates) > index_module.EXACT_CANDIDATES_MAX
    for query in clustered(10, 16, 6):
        ids, _ = index.search(query, 10, candidates)
        assert ids.tolist() == exact_top(vectors, query, 10, candidates)


def test_the_inverted_file_finds_the_neighbours_and_forgets_removed_vectors() -> None:
    vectors = clustered(30_000, 32, 7)
    index = filled_index(vectors, exact_max=1000, batch=5000)
    assert index.approximate
    queries = clustered(50, 32, 8)
    recall = np.mean(
        [len(set(index.search(q, 10)[0].tolist()) & set(exact_top(vectors, q, 10))) / 10 for q in queries]
    )
    assert recall >= 0.95
    best = exact_top(vectors, queries[0], 3)
    index.remove(np.array(best, dtype=np.int64))
    assert not set(index.search(queries[0], 10)[0].tolist()) & set(best)
    index.remove(np.arange(1000, 30_000, dtype=np.int64))
    assert not index.approximate and index.live_count == 1000 - len({b for b in best if b < 1000})


def test_a_selective_filter_in_approximate_mode_still_returns_top_k(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "EXACT_CANDIDATES_MAX", 0)  # force the filtered inverted-file path
    vectors = clustered(30_000, 32, 9)
    index = filled_index(vectors, exact_max=1000, batch=5000)
    query = clustered(1, 32, 10)[0]
    # Candidates from the vectors least like the query, so no probed list holds them.
    candidates = np.argsort(vectors @ query)[:40].astype(np.int64)
    ids, _ = index.search(query, 10, candidates)
    assert ids.tolist() == exact_top(vectors, query, 10, candidates)


def test_loading_a_collection_fits_once_and_answers_like_adding(monkeypatch: pytest.MonkeyPatch) -> None:
    fits: list[int] = []
    refit = CollectionIndex._refit
    monkeypatch.setattr(CollectionIndex, "_refit", lambda self: (fits.append(self.live_count), refit(self)))
    vectors = clustered(6000, 32, 15)
    batches = [(np.arange(s, s + 1000, dtype=np.int64), vectors[s : s + 1000]) for s in range(0, 6000, 1000)]
    exact = CollectionIndex(32, exact_max=10_000)
    exact.load(iter(batches))
    approximate = CollectionIndex(32, exact_max=2000)
    approximate.load(iter(batches))
    assert fits == [6000, 6000]  # one fit each (adding batch by batch refits 3 and 4 times)
    assert not exact.approximate and approximate.approximate and approximate.max_seq == 5999
    queries = clustered(30, 32, 16)
    for query in queries:
        assert exact.search(query, 10)[0].tolist() == exact_top(vectors, query, 10)
    found = [set(approximate.search(q, 10)[0].tolist()) & set(exact_top(vectors, q, 10)) for q in queries]
    assert np.mean([len(f) / 10 for f in found]) >= 0.95
