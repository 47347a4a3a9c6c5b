"""One query's int8 scan split across the machine's cores.

FAISS parallelises a search over its queries, so a single query scans on one core while the others idle
(with OpenMP threads it was slower here: docs/benchmarks.md). This module splits the work instead: the
exact scan over shards of the codes (a rowid lives in shard ``rowid % shards``), the inverted-file scan
over the probed lists; each part is searched from its own thread (FAISS releases the GIL while it
searches) and the parts' candidates are merged. A part that returns as many candidates as were asked for
may have left others out, so the merge also reports the best estimate any left-out vector can have: the
exactness proof in ``index`` compares against that cut-off.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

faiss: Any = importlib.import_module("faiss")

Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
Part = TypeVar("Part")
Result = TypeVar("Result")

# Threads one query's scan is split over: the cores this process may run on, at most 4 (past that a
# query's scan is short enough that handing it out costs more than it saves).
SCAN_THREADS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))
# Below this many codes one core is as fast: handing parts to threads cost about 0.4 ms a query on the
# 2-core machine (measured: one thread faster at 16,000 codes, even at 32,000, two faster at 64,000).
PARALLEL_MIN_CODES = 40_000


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """The process's scan threads (made on first use, kept for its lifetime)."""
    return ThreadPoolExecutor(threads, thread_name_prefix="pixembed-scan")


def run_parts(work: Callable[[Part], Result], parts: Sequence[Part], parallel: bool) -> list[Result]:
    """``work`` on every part, from a shared thread pool when ``parallel`` (results in order)."""
    if not parallel or len(parts) < 2 or SCAN_THREADS < 2:
        return [work(part) for part in parts]
    # The calling thread takes the first part itself rather than idling while it waits.
    others = [_pool(SCAN_THREADS).submit(work, part) for part in parts[1:]]
    return [work(parts[0]), *(future.result() for future in others)]


@contextlib.contextmanager
def all_cores() -> Iterator[None]:
    """FAISS's OpenMP threads on every scan core for bulk work in this thread (training an inverted file,
    assigning a batch of vectors to its lists), then back to one for single-query searches."""
    faiss.omp_set_num_threads(SCAN_THREADS)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)


@dataclass(frozen=True)
class Candidates:
    """Rowids and their estimated scores; every vector not among them scores at most ``cutoff``.

    ``cutoff`` is None when nothing was left out (every vector that could match was returned).
    """

    ids: Ids
    estimates: Vectors
    cutoff: float | None


def merge(results: Sequence[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]], asked: int) -> Candidates:
    """Merge FAISS ``(scores, ids)`` answers of one query from several parts, each asked for ``asked``."""
    ids, estimates, cutoff = [], [], -math.inf
    for scores, found in results:
        valid = found[0] >= 0
        ids.append(found[0][valid])
        estimates.append(scores[0][valid])
        if int(valid.sum()) >= asked:  # this part may hold more, all scoring at most its last answer
            cutoff = max(cutoff, float(scores[0][asked - 1]))
    return Candidates(
        np.concatenate(ids).astype(np.int64),
        np.concatenate(estimates).astype(np.float32),
        None if cutoff == -math.inf else cutoff,
    )


def _code_index(dimensions: int) -> Any:
    return faiss.IndexIDMap2(
        faiss.IndexScalarQuantizer(
            dimensions, faiss.ScalarQuantizer.QT_8bit_direct_signed, faiss.METRIC_INNER_PRODUCT
        )
    )


class ShardedCodes:
    """int8 codes by rowid in ``SCAN_THREADS`` FAISS indexes, scanned in parallel for one query."""

    def __init__(self, dimensions: int, shards: int | None = None) -> None:
        self._shards = [_code_index(dimensions) for _ in range(max(1, shards or SCAN_THREADS))]

    @property
    def ntotal(self) -> int:
        """Codes held."""
        return sum(int(shard.ntotal) for shard in self._shards)

    def add_with_ids(self, codes: Vectors, rowids: Ids) -> None:
        """Add integer-valued float32 codes under their rowids."""
        where = rowids % len(self._shards)
        for number, shard in enumerate(self._shards):
            chosen = where == number
            if chosen.any():
                shard.add_with_ids(np.ascontiguousarray(codes[chosen]), rowids[chosen])

    def remove_ids(self, rowids: Ids) -> None:
        """Forget rowids (those not held are ignored)."""
        where = rowids % len(self._shards)
        for number, shard in enumerate(self._shards):
            chosen = rowids[where == number]
            if len(chosen):
                shard.remove_ids(chosen)

    def search(self, query_codes: Vectors, count: int, selector: Any = None) -> Candidates:
        """The best ``count`` code scores of every shard (un-scaled), among ``selector`` when given."""
        codes = np.ascontiguousarray(query_codes.reshape(1, -1), dtype=np.float32)

        def scan(shard: Any) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
            # One parameter object per thread: IndexIDMap swaps its selector in place while searching.
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
            scores, ids = shard.search(codes, count, params=params)
            return scores, ids

        results = run_parts(scan, self._shards, parallel=self.ntotal >= PARALLEL_MIN_CODES)
        return merge(results, count)


def probe_lists(
    ivf: Any,
    query_codes: Vectors,
    lists: npt.NDArray[np.int64],
    list_scores: npt.NDArray[np.float32],
    count: int,
    selector: Any = None,
) -> Candidates:
    """The best ``count`` code scores in each share of the inverted ``lists`` (nearest first), scanned in
    parallel: the lists are dealt out round-robin so each thread gets near and far ones alike."""
    codes = np.ascontiguousarray(query_codes.reshape(1, -1), dtype=np.float32)
    scanned = sum(ivf.invlists.list_size(int(i)) for i in lists)
    shares = min(SCAN_THREADS, len(lists)) if scanned >= PARALLEL_MIN_CODES else 1

    def scan(share: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        assign = np.ascontiguousarray(lists[share::shares].reshape(1, -1), dtype=np.int64)
        assign_scores = np.ascontiguousarray(list_scores[share::shares].reshape(1, -1), dtype=np.float32)
        params = faiss.SearchParametersIVF(sel=selector, nprobe=assign.shape[1])
        scores = np.empty((1, count), np.float32)
        ids = np.empty((1, count), np.int64)
        ptr = faiss.swig_ptr
        # search_preassigned reuses the lists found by the caller; its Python wrapper takes no params.
        ivf.search_preassigned_c(
            1, ptr(codes), count, ptr(assign), ptr(assign_scores), ptr(scores), ptr(ids), False, params
        )
        return scores, ids

    return merge(run_parts(scan, range(shares), parallel=shares > 1), count)
