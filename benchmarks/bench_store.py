"""Store benchmark: exact and HNSW search latency, recall, and durable ingestion, embedded vs Qdrant local.

    python benchmarks/bench_store.py --exact 100000 --approx 1000000 --ingest 20000

Every figure comes from one run on one machine; latencies are medians (p50) and p99 over single queries.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from pixembed.store import Record, VectorStore, open_store
from pixembed.store.embedded import EmbeddedStore

DIMS = 512


def unit(n: int, seed: int) -> np.ndarray:
    """Random unit vectors, made in chunks to bound memory."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIMS), dtype=np.float32)
    for start in range(0, n, 100_000):
        block = rng.normal(size=(min(100_000, n - start), DIMS)).astype(np.float32)
        out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def fill(store: VectorStore, vectors: np.ndarray, batch: int = 5000) -> float:
    """Upsert every vector in durable batches; returns seconds taken."""
    store.create_collection("bench", "bench", DIMS)
    start = time.perf_counter()
    for i in range(0, len(vectors), batch):
        store.upsert(
            "bench", [Record(str(i + j), v, {"n": i + j}) for j, v in enumerate(vectors[i : i + batch])]
        )
    return time.perf_counter() - start


def latency(store: VectorStore, queries: np.ndarray, top_k: int = 10) -> tuple[float, float, list[list[str]]]:
    """p50 and p99 milliseconds per single query, and the ids found."""
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        matches = store.search("bench", q, top_k)
        times.append((time.perf_counter() - start) * 1000)
        found.append([m.id for m in matches])
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), found


def recall(found: list[list[str]], vectors: np.ndarray, queries: np.ndarray, top_k: int = 10) -> float:
    """recall@k of ``found`` against exact brute force."""
    hits = 0
    for q, ids in zip(queries, found, strict=True):
        exact = {str(i) for i in np.argpartition(-(vectors @ q), top_k)[:top_k]}
        hits += len(exact & set(ids))
    return hits / (top_k * len(queries))


def bench_search(location: str, n: int, exact_max: int | None, queries: np.ndarray) -> dict[str, float]:
    """Fill a store with n vectors and time searches."""
    vectors = unit(n, seed=1)
    store = EmbeddedStore(location, exact_max=exact_max) if exact_max is not None else open_store(location)
    fill_s = fill(store, vectors)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    p50, p99, found = latency(store, queries)
    result = {
        "n": n,
        "fill_s": round(fill_s, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "recall@10": round(recall(found, vectors, queries), 4),
        "max_rss_mb": round(rss_mb),
    }
    store.close()
    return result


def bench_ingest(location: str, n: int) -> dict[str, float]:
    """Durable ingestion rate of precomputed vectors."""
    store = open_store(location)
    seconds = fill(store, unit(n, seed=2))
    store.close()
    return {"n": n, "vectors_per_s": round(n / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exact", type=int, default=100_000, help="vectors for the exact-search run")
    parser.add_argument("--approx", type=int, default=1_000_000, help="vectors for the HNSW run (0 to skip)")
    parser.add_argument("--ingest", type=int, default=20_000, help="vectors for the ingestion run")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--qdrant-max", type=int, default=100_000, help="largest n tried on Qdrant local mode"
    )
    args = parser.parse_args()
    queries = unit(args.queries, seed=3)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results["embedded_exact"] = bench_search(str(root / "exact"), args.exact, args.exact + 1, queries)
        if args.approx:
            results["embedded_hnsw"] = bench_search(str(root / "hnsw"), args.approx, 0, queries)
        results["embedded_ingest"] = bench_ingest(str(root / "ingest"), args.ingest)
        qn = min(args.exact, args.qdrant_max)
        results["qdrant_local_exactish"] = bench_search(f"qdrant+local:{root / 'q'}", qn, None, queries)
        results["qdrant_local_ingest"] = bench_ingest(f"qdrant+local:{root / 'qi'}", args.ingest)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
