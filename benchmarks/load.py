"""Hold N concurrent clients against a loopback ``pixembed serve`` and report what the server did.

    python benchmarks/load.py --clients 32 --duration 60 [--with-key] [--json out.json]

Starts the server itself (tiny model, a fresh data dir), fills a collection, then each client loops over a
mix of requests (embed an image, embed a text, search the collection by text, compare an image with
prompts) for ``--duration`` seconds. With ``--with-key`` every request carries a stored API key with a
quota and a rate limit (too large to bite), so the key store's per-request accounting is in the figures.
Reports throughput, p50/p99 latency per kind, responses by status, and the server's RSS after warm-up and
at the end. Exits 1 on any 5xx or an RSS growth of 10% or more.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from PIL import Image

from pixembed.synthetic.shapes import caption, render_shape

SHAPES = [("circle", "red"), ("square", "blue"), ("triangle", "green"), ("star", "yellow")]
KINDS = ("embed", "embed_text", "search", "compare")


def png_images(count: int) -> list[bytes]:
    """``count`` small PNGs of the shapes the tiny model knows."""
    rng = np.random.default_rng(0)
    images = []
    for i in range(count):
        shape, colour = SHAPES[i % len(SHAPES)]
        buffer = io.BytesIO()
        image: Image.Image = render_shape(shape, colour, size=160, rng=rng)
        image.save(buffer, "PNG")
        images.append(buffer.getvalue())
    return images


def start_server(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``pixembed serve`` on a free loopback port; returns once /readyz answers 200."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = log_path.open("wb")
    env = {**os.environ, "PIXEMBED_API_KEYS": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "pixembed", "serve", "--model", "pixembed-tiny", "--port", str(port),
         "--data-dir", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early; see {log_path}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"server did not become ready; see {log_path}")


def fill_collection(base: str, images: list[bytes], headers: dict[str, str]) -> None:
    """A collection of the images, so searches have something to rank."""
    with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
        http.post("/v1/collections", json={"name": "load"}).raise_for_status()
        files = [("image", (f"{i}.png", data, "image/png")) for i, data in enumerate(images)]
        http.post("/v1/collections/load/items", files=files).raise_for_status()


def create_key(data_dir: Path) -> str:
    """A read+write key with a quota and a rate far above what the run can use."""
    from pixembed.store.keys import KeyStore

    store = KeyStore(data_dir / "keys.sqlite")
    key, _ = store.create("load", ("read", "write"), quota="100000000/month", rate="100000/s")
    store.close()
    return key


async def one_request(http: httpx.AsyncClient, kind: str, image: bytes, text: str) -> httpx.Response:
    """One request of ``kind``."""
    if kind == "embed":
        return await http.post("/v1/embed", files={"image": ("q.png", image, "image/png")})
    if kind == "embed_text":
        return await http.post("/v1/embed/text", json={"text": text})
    if kind == "search":
        return await http.post("/v1/collections/load/search", json={"text": text, "top_k": 5})
    prompts = [caption(shape, colour) for shape, colour in SHAPES]
    return await http.post("/v1/compare", files={"image": ("q.png", image)}, data={"prompts": prompts})


async def client_loop(
    base: str,
    headers: dict[str, str],
    until: float,
    images: list[bytes],
    seed: int,
    results: dict[str, list[float]],
    statuses: Counter[str],
) -> None:
    """Send requests back to back until ``until``, recording latency by kind and status by kind."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
        while time.monotonic() < until:
            kind = rng.choice(KINDS)
            shape, colour = rng.choice(SHAPES)
            started = time.perf_counter()
            try:
                response = await one_request(http, kind, rng.choice(images), caption(shape, colour))
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            results[kind].append(time.perf_counter() - started)
            statuses[f"{kind} {status}"] += 1


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile in milliseconds (0 for no values)."""
    return float(np.percentile(values, q) * 1000) if values else 0.0


async def run_load(
    base: str, headers: dict[str, str], clients: int, duration: float, images: list[bytes]
) -> dict[str, Any]:
    """Run ``clients`` loops for ``duration`` seconds; the summary as a dict."""
    results: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[str] = Counter()
    started = time.monotonic()
    until = started + duration
    loops = (client_loop(base, headers, until, images, i, results, statuses) for i in range(clients))
    await asyncio.gather(*loops)
    elapsed = time.monotonic() - started
    every = [v for values in results.values() for v in values]
    return {
        "clients": clients,
        "duration_s": round(elapsed, 1),
        "requests": len(every),
        "throughput_rps": round(len(every) / elapsed, 1),
        "p50_ms": round(percentile(every, 50), 1),
        "p99_ms": round(percentile(every, 99), 1),
        "by_kind": {
            kind: {
                "requests": len(values),
                "p50_ms": round(percentile(values, 50), 1),
                "p99_ms": round(percentile(values, 99), 1),
            }
            for kind, values in sorted(results.items())
        },
        "statuses": dict(sorted(statuses.items())),
    }


def main() -> None:
    """Parse arguments, start the server, warm up, load, report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before RSS is first read")
    parser.add_argument("--with-key", action="store_true", help="send a stored API key with limits")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()

    images = png_images(24)
    with tempfile.TemporaryDirectory(prefix="pixembed-load-") as tmp:
        data_dir = Path(tmp) / "data"
        headers = {"Authorization": f"Bearer {create_key(data_dir)}"} if args.with_key else {}
        process, base = start_server(data_dir, Path(tmp) / "server.log")
        try:
            fill_collection(base, images, headers)
            server = psutil.Process(process.pid)
            asyncio.run(run_load(base, headers, args.clients, args.warmup, images))
            rss_start = server.memory_info().rss
            summary = asyncio.run(run_load(base, headers, args.clients, args.duration, images))
            rss_end = server.memory_info().rss
        finally:
            process.terminate()
            process.wait(timeout=30)
    summary["with_key"] = args.with_key
    summary["rss_start_mb"] = round(rss_start / 2**20, 1)
    summary["rss_end_mb"] = round(rss_end / 2**20, 1)
    summary["rss_growth_pct"] = round(100 * (rss_end - rss_start) / rss_start, 2)
    server_errors = {k: v for k, v in summary["statuses"].items() if not k.split()[1].startswith(("2", "4"))}
    summary["server_errors"] = server_errors
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    if server_errors or summary["rss_growth_pct"] >= 10:
        sys.exit(1)


if __name__ == "__main__":
    main()
