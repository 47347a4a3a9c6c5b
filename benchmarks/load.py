"""Hold N concurrent clients against a loopback ``pixembed serve`` and report what the server did.

    python benchmarks/load.py --clients 32 --duration 60 [--with-key] [--json out.json]

Starts the server itself (tiny model, a fresh data dir), fills a collection, then each client loops over a
mix of requests (embed an image, embed a text, search the collection by text, compare an image with
prompts) for ``--duration`` seconds. With ``--with-key`` every request carries a stored API key with a
quota and a rate limit (too large to bite), so the key store's per-request accounting is in the figures.
Every answer is checked against the one the idle server gave before the load began: an image's vector and
a text's vector (cosine >= 0.999), the best prompt of a comparison, the top hit of a search. Reports
throughput, p50/p99 latency per kind, responses by status, wrong answers, and the server's RSS after warm-up
and at the end. Exits 1 on any 5xx, any wrong answer, an RSS growth of 10% or more, or (with
``--max-p99-ms``) a p99 latency over that bound.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
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


def start_server(
    data_dir: Path, log_path: Path, env: dict[str, str] | None = None, ready_timeout_s: float = 120
) -> tuple[subprocess.Popen[bytes], str]:
    """``pixembed serve`` on a free loopback port (``env`` added to its environment); returns once /readyz
    answers 200."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "pixembed", "serve", "--model", "pixembed-tiny", "--port", str(port),
         "--data-dir", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PIXEMBED_API_KEYS": "", **(env or {})},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout_s
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


PROMPTS = [caption(shape, colour) for shape, colour in SHAPES]
SAME_VECTOR = 0.999  # cosine: batching may change float rounding, never the vector


@dataclass
class Answers:
    """What the idle server answered for each image and text: the reference for every answer under load."""

    image_vectors: list[np.ndarray] = field(default_factory=list)
    best_prompts: list[int] = field(default_factory=list)
    text_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    top_hits: dict[str, str] = field(default_factory=dict)


def unit(values: list[float]) -> np.ndarray:
    """A vector as a float64 array (already unit length from the server)."""
    return np.asarray(values, dtype=np.float64)


async def idle_answers(base: str, headers: dict[str, str], images: list[bytes]) -> Answers:
    """Ask the idle server once for every image and text the load will send."""
    answers = Answers()
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
        for image in images:
            embedded = (await one_request(http, "embed", image, "")).raise_for_status().json()
            answers.image_vectors.append(unit(embedded["vector"]))
            compared = (await one_request(http, "compare", image, "")).raise_for_status().json()
            answers.best_prompts.append(compared["ranking"][0]["index"])
        for text in PROMPTS:
            embedded = (await one_request(http, "embed_text", b"", text)).raise_for_status().json()
            answers.text_vectors[text] = unit(embedded["vector"])
            found = (await one_request(http, "search", b"", text)).raise_for_status().json()
            answers.top_hits[text] = found["results"][0]["id"]
    return answers


def answer_is_right(kind: str, body: dict[str, Any], answers: Answers, image: int, text: str) -> bool:
    """True when ``body`` (a 200 answer under load) says what the idle server said."""
    if kind == "embed":
        return float(unit(body["vector"]) @ answers.image_vectors[image]) >= SAME_VECTOR
    if kind == "embed_text":
        return float(unit(body["vector"]) @ answers.text_vectors[text]) >= SAME_VECTOR
    if kind == "search":
        return bool(body["results"][0]["id"] == answers.top_hits[text])
    return bool(body["ranking"][0]["index"] == answers.best_prompts[image])


async def one_request(http: httpx.AsyncClient, kind: str, image: bytes, text: str) -> httpx.Response:
    """One request of ``kind``."""
    if kind == "embed":
        return await http.post("/v1/embed", files={"image": ("q.png", image, "image/png")})
    if kind == "embed_text":
        return await http.post("/v1/embed/text", json={"text": text})
    if kind == "search":
        return await http.post("/v1/collections/load/search", json={"text": text, "top_k": 5})
    return await http.post("/v1/compare", files={"image": ("q.png", image)}, data={"prompts": PROMPTS})


async def client_loop(
    base: str,
    headers: dict[str, str],
    until: float,
    images: list[bytes],
    seed: int,
    results: dict[str, list[float]],
    statuses: Counter[str],
    answers: Answers,
    checks: Counter[str],
) -> None:
    """Send requests back to back until ``until``, recording latency and status by kind, and counting
    (in ``checks``) the answers checked and the wrong ones."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
        while time.monotonic() < until:
            kind = rng.choice(KINDS)
            image = rng.randrange(len(images))
            text = rng.choice(PROMPTS)
            started = time.perf_counter()
            try:
                response = await one_request(http, kind, images[image], text)
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            results[kind].append(time.perf_counter() - started)
            statuses[f"{kind} {status}"] += 1
            if status == "200":
                checks[f"{kind} checked"] += 1
                if not answer_is_right(kind, response.json(), answers, image, text):
                    checks[f"{kind} wrong"] += 1


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile in milliseconds (0 for no values)."""
    return float(np.percentile(values, q) * 1000) if values else 0.0


async def run_load(
    bases: Sequence[str],
    headers: dict[str, str],
    clients: int,
    duration: float,
    images: list[bytes],
    answers: Answers,
) -> dict[str, Any]:
    """Run ``clients`` loops for ``duration`` seconds, client i against ``bases[i % len(bases)]``; the
    summary as a dict."""
    results: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    started = time.monotonic()
    until = started + duration
    loops = (
        client_loop(bases[i % len(bases)], headers, until, images, i, results, statuses, answers, checks)
        for i in range(clients)
    )
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
        "answers_checked": {k.split()[0]: v for k, v in sorted(checks.items()) if k.endswith("checked")},
        "wrong_answers": {k.split()[0]: v for k, v in sorted(checks.items()) if k.endswith("wrong")},
    }


def errors_of(summary: dict[str, Any]) -> dict[str, int]:
    """The responses that were neither 2xx nor 4xx (5xx, and requests that got no answer), by kind."""
    return {k: v for k, v in summary["statuses"].items() if not k.split()[1].startswith(("2", "4"))}


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
    parser.add_argument("--max-p99-ms", type=float, help="fail when the p99 latency is over this")
    args = parser.parse_args()

    images = png_images(24)
    with tempfile.TemporaryDirectory(prefix="pixembed-load-") as tmp:
        data_dir = Path(tmp) / "data"
        headers = {"Authorization": f"Bearer {create_key(data_dir)}"} if args.with_key else {}
        process, base = start_server(data_dir, Path(tmp) / "server.log")
        try:
            fill_collection(base, images, headers)
            answers = asyncio.run(idle_answers(base, headers, images))
            server = psutil.Process(process.pid)
            asyncio.run(run_load([base], headers, args.clients, args.warmup, images, answers))
            rss_start = server.memory_info().rss
            summary = asyncio.run(run_load([base], headers, args.clients, args.duration, images, answers))
            rss_end = server.memory_info().rss
        finally:
            process.terminate()
            process.wait(timeout=30)
    summary["with_key"] = args.with_key
    summary["rss_start_mb"] = round(rss_start / 2**20, 1)
    summary["rss_end_mb"] = round(rss_end / 2**20, 1)
    summary["rss_growth_pct"] = round(100 * (rss_end - rss_start) / rss_start, 2)
    server_errors = summary["server_errors"] = errors_of(summary)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    too_slow = args.max_p99_ms is not None and summary["p99_ms"] > args.max_p99_ms
    if server_errors or summary["wrong_answers"] or summary["rss_growth_pct"] >= 10 or too_slow:
        sys.exit(1)


if __name__ == "__main__":
    main()
