"""Vector data the store tests share: unit rows, clustered points, filled indexes, the brute-force answer.

Plain functions rather than fixtures: every test asks for its own size, dimension and seed."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pixembed.store.index import CollectionIndex

Rows = npt.NDArray[np.float32]


def unit_rows(vectors: npt.ArrayLike) -> Rows:
    """``vectors`` with each row scaled to length 1, as float32."""
    array = np.asarray(vectors)  # normalised in its own precision: near-tie tests depend on the exact bits
    return (array / np.linalg.norm(array, axis=1, keepdims=True)).astype(np.float32)


def random_unit(n: int, d: int, seed: int) -> Rows:
    """``n`` random unit vectors of ``d`` dimensions."""
    return unit_rows(np.random.default_rng(seed).normal(size=(n, d)))


def clustered(n: int, d: int, seed: int, centres: int = 100, spread: float = 0.5) -> Rows:
    """Unit points around shared cluster centres (the same centres for every seed), ``spread`` away."""
    middles = random_unit(centres, d, 0)
    rng = np.random.default_rng(seed)
    return unit_rows(middles[rng.integers(0, centres, n)] + spread * unit_rows(rng.normal(size=(n, d))))


def filled_index(vectors: Rows, exact_max: int, batch: int = 1000) -> CollectionIndex:
    """A CollectionIndex holding ``vectors`` under ids 0..n-1, added ``batch`` at a time."""
    index = CollectionIndex(vectors.shape[1], exact_max)
    for start in range(0, len(vectors), batch):
        chunk = vectors[start : start + batch]
        index.add(np.arange(start, start + len(chunk), dtype=np.int64), chunk)
    return index


def exact_top(vectors: Rows, query: Rows, k: int, among: npt.NDArray[np.int64] | None = None) -> list[int]:
    """The ids of the ``k`` rows (of ``among``, else of all) nearest ``query`` by cosine, ties by id."""
    ids = np.arange(len(vectors)) if among is None else among
    return [int(i) for i in ids[np.argsort(-(vectors[ids] @ query), kind="stable")[:k]]]


FLOAT32_TIE = 1.2e-7
"""Scores nearer than float32's resolution at 1.0: a float32 scan may rank such a pair either way."""


def assert_ranked_exactly(vectors: Rows, query: Rows, ids: list[int], k: int) -> None:
    """``ids`` is the exact top ``k`` of ``query``, except that rows tied within float32 resolution may
    trade places (whether two such scores round equal depends on the CPU's SIMD path)."""
    exact = exact_top(vectors, query, k)
    if ids == exact:
        return
    scores = vectors.astype(np.float64) @ query.astype(np.float64)
    got, want = scores[ids], scores[exact]
    assert len(set(ids)) == k and np.all(np.diff(got) <= FLOAT32_TIE), f"not ranked best first: {ids}"
    assert np.allclose(got, want, rtol=0, atol=FLOAT32_TIE), f"{ids} != {exact} beyond float32 ties"
