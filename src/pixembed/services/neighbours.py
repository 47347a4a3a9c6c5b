"""All pairs of unit vectors above a cosine similarity: FAISS range search, exact or IVF for large sets."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

faiss: Any = importlib.import_module("faiss")

Vectors = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
# Up to this many vectors the all-pairs search is exact (a flat inner-product scan; 10,000 x 10,000 x 512
# is a few seconds on two cores). Above it, an IVF index: each vector is compared only with the vectors of
# the IVF_PROBES cells nearest to it. Near-duplicates (cosine >= 0.85) almost always share a cell; the
# recall against the exact search is measured in benchmarks/bench_dedup.py.
EXACT_MAX = 10_000
IVF_PROBES = 4
QUERY_CHUNK = 2048


def _index(vectors: Vectors, exact_max: int) -> Any:
    n, d = vectors.shape
    if n <= exact_max:
        flat = faiss.IndexFlatIP(d)
        flat.add(vectors)
        return flat
    cells = int(4 * math.sqrt(n))
    quantizer = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFFlat(quantizer, d, cells, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = vectors[rng.choice(n, size=min(n, cells * 40), replace=False)]
    ivf.train(np.ascontiguousarray(sample))
    ivf.add(vectors)
    ivf.nprobe = IVF_PROBES
    return ivf


def similar_pairs(
    vectors: Vectors,
    min_similarity: float,
    on_progress: Callable[[float], None] = lambda _: None,
    exact_max: int = EXACT_MAX,
) -> tuple[Ints, Ints, Vectors]:
    """Every pair (a < b) of rows whose cosine similarity is at least ``min_similarity``.

    ``vectors`` must be L2-normalised (inner product = cosine). FAISS's radius is exclusive for inner
    products, so the threshold is nudged down by a float epsilon to keep pairs exactly at it.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    index = _index(vectors, exact_max)
    on_progress(0.05)
    radius = float(np.nextafter(np.float32(min_similarity), np.float32(-2)))
    firsts, seconds, sims = [], [], []
    for start in range(0, n, QUERY_CHUNK):
        chunk = vectors[start : start + QUERY_CHUNK]
        limits, scores, found = index.range_search(chunk, radius)
        queries = start + np.repeat(np.arange(len(chunk)), np.diff(limits).astype(np.int64))
        # An IVF search is not symmetric (a may find b while b misses a), so both directions are kept
        # and the pair is counted once below.
        keep = found != queries
        firsts.append(np.minimum(queries[keep], found[keep]))
        seconds.append(np.maximum(queries[keep], found[keep]).astype(np.int64))
        sims.append(np.minimum(scores[keep], 1.0).astype(np.float32))
        on_progress(0.05 + 0.95 * min(1.0, (start + len(chunk)) / n))
    a, b, s = np.concatenate(firsts), np.concatenate(seconds), np.concatenate(sims)
    _, first = np.unique(a * n + b, return_index=True)
    return a[first].astype(np.int64), b[first].astype(np.int64), s[first]
