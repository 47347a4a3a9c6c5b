"""The in-memory FAISS index of one collection, keyed by SQLite rowid.

Exact inner-product search (IndexFlatIP) up to ``exact_max`` vectors, HNSW above. HNSW cannot remove
vectors, so in that mode deleted or replaced rowids are kept as tombstones and excluded at search time,
and the graph is rebuilt from the live vectors once tombstones reach a fifth of it.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

# faiss's bundled stubs lack its selectors and HNSW search parameters, so it is used untyped here.
faiss: Any = importlib.import_module("faiss")
# Searches here are one query vector at a time. Measured on the 2-core machine (docs/benchmarks.md),
# splitting one 100k scan over OpenMP threads was slower (p50 18.3 ms vs 13.6 ms with one thread), and
# one thread per query lets concurrent requests use the other core instead of contending for both.
faiss.omp_set_num_threads(1)

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]

HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 128
# Below this many candidates a filtered search is answered exactly from the stored vectors.
EXACT_CANDIDATES_MAX = 50_000


class CollectionIndex:
    """Vectors of one collection by rowid, searched exactly or with HNSW."""

    def __init__(self, dimensions: int, exact_max: int) -> None:
        self.dimensions = dimensions
        self.exact_max = exact_max
        self._lock = threading.RLock()
        self._tombstones: set[int] = set()
        self._index = self._empty(approximate=False)
        self.max_seq = 0

    @property
    def approximate(self) -> bool:
        """True once the collection outgrew exact search."""
        return isinstance(faiss.downcast_index(self._index.index), faiss.IndexHNSWFlat)

    @property
    def live_count(self) -> int:
        """Vectors that can be found."""
        return int(self._index.ntotal) - len(self._tombstones)

    def _empty(self, approximate: bool) -> Any:
        if approximate:
            inner = faiss.IndexHNSWFlat(self.dimensions, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            inner = faiss.IndexFlatIP(self.dimensions)
        return faiss.IndexIDMap2(inner)

    def add(self, rowids: Ids, vectors: Vectors) -> None:
        """Add vectors under new rowids (callers remove a rowid before re-adding it)."""
        with self._lock:
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), rowids.astype(np.int64))
            if len(rowids):
                self.max_seq = max(self.max_seq, int(rowids.max()))
            if not self.approximate and self._index.ntotal > self.exact_max:
                self._rebuild(approximate=True)

    def remove(self, rowids: Ids) -> None:
        """Forget rowids (tombstoned in HNSW mode)."""
        with self._lock:
            if not self.approximate:
                self._index.remove_ids(rowids.astype(np.int64))
                return
            self._tombstones.update(int(r) for r in rowids)
            if len(self._tombstones) * 5 >= max(self._index.ntotal, 1):
                self._rebuild(approximate=self.live_count > self.exact_max)

    def _rebuild(self, approximate: bool) -> None:
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        keep = np.array([int(i) not in self._tombstones for i in ids], dtype=bool)
        vectors = self._index.reconstruct_batch(ids[keep]) if keep.any() else np.zeros((0, self.dimensions))
        index = self._empty(approximate)
        if keep.any():
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids[keep])
        self._index, self._tombstones = index, set()

    def search(self, query: Vectors, top_k: int, candidates: Ids | None = None) -> tuple[Ids, Vectors]:
        """Rowids and scores of the best ``top_k``, limited to ``candidates`` when given."""
        with self._lock:
            query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
            if candidates is not None and (not self.approximate or len(candidates) <= EXACT_CANDIDATES_MAX):
                return self._exact_among(query, candidates, top_k)
            excluded = np.fromiter(self._tombstones, dtype=np.int64)
            selector = None
            if candidates is not None:
                selector = faiss.IDSelectorBatch(candidates.astype(np.int64))
            elif len(excluded):
                selector = faiss.IDSelectorNot(faiss.IDSelectorBatch(excluded))
            k = min(top_k, max(self.live_count, 0))
            if k == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))
                if self.approximate
                else faiss.SearchParameters(sel=selector)
            )
            scores, ids = self._index.search(query, k, params=params)
            found = ids[0] >= 0
            return ids[0][found], scores[0][found]

    def _exact_among(self, query: Vectors, candidates: Ids, top_k: int) -> tuple[Ids, Vectors]:
        live = np.array([c for c in candidates if int(c) not in self._tombstones], dtype=np.int64)
        if len(live) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        vectors = self._index.reconstruct_batch(live)
        scores = vectors @ query[0]
        order = np.argsort(-scores, kind="stable")[:top_k]
        return live[order], scores[order].astype(np.float32)
