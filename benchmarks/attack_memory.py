"""Replay issue 14's memory attacks against a loopback ``pixembed serve`` and report what each one cost.

    python benchmarks/attack_memory.py [--limit-mb 300] [--p99-ms 200] [--json out.json]

Starts the server itself (tiny model, a fresh data dir, one API key in PIXEMBED_API_KEYS so that auth is
on), warms it up, takes its idle RSS, then runs each attack in turn while one thread samples the server's
RSS every 10 ms and another times ``/healthz`` every 50 ms. Prints, per case, the statuses the server
answered, the peak RSS over idle and the wall time; then the /healthz p50/p99 over the whole run. Exits 1
if any case grew the server by ``--limit-mb`` or more, or if the /healthz p99 reached ``--p99-ms``.

Everything stays on 127.0.0.1 and is bounded: bodies of at most 300 MB (sent only as fast as the server
reads them), a few requests per case, timeouts on every call. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.hostile import png_zero_bomb, webp_lossless_declaring

MB = 1024 * 1024
KEY = "attack-" + secrets.token_hex(8)
AUTH = {"Authorization": f"Bearer {KEY}"}


def start_server(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``pixembed serve`` with one API key, on a free loopback port; returns once /readyz answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "pixembed", "serve", "--model", "pixembed-tiny", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PIXEMBED_API_KEYS": KEY},
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"server did not become ready; see {log_path}")


class RssSampler:
    """Samples a process's RSS every 10 ms; ``peak()`` is the highest seen since it started."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._peak = max(self._peak, self._process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.01)

    def peak(self) -> int:
        time.sleep(0.05)  # one more sample after the case's last response
        return self._peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class HealthProbe:
    """Times GET /healthz every 50 ms on its own keep-alive connection while it runs."""

    def __init__(self, base: str) -> None:
        self.latencies: list[float] = []
        self.failures = 0
        self._base = base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self._base, timeout=5) as http:
            http.get("/healthz")
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    ok = http.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies.append(time.perf_counter() - started)
                self.failures += not ok
                time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def float_tiff(side: int) -> bytes:
    """A real, deflate-compressed float32 TIFF of zeros (400 MB of pixels at 10000 a side, ~400 KB)."""
    return encoded(
        Image.fromarray(np.zeros((side, side), dtype=np.float32), "F"),
        "TIFF",
        compression="tiff_adobe_deflate",
    )


def transparent_gif(side: int) -> bytes:
    """A real palette GIF of one colour with that colour transparent."""
    return encoded(Image.new("P", (side, side), 0), "GIF", transparency=0)


def noisy_png(side: int, mode: str = "RGB") -> bytes:
    """A PNG of coarse random blocks (it compresses, and still decodes to side*side pixels)."""
    rng = np.random.default_rng(side)
    channels = len(mode)
    blocks = rng.integers(0, 256, size=(side // 50, side // 50, channels), dtype=np.uint8)
    return encoded(Image.fromarray(np.kron(blocks, np.ones((50, 50, 1), dtype=np.uint8)), mode), "PNG")


def endless_body(total: int, chunk: int = MB) -> Iterator[bytes]:
    """A JSON-looking body of ``total`` bytes, produced only as fast as the server reads it."""
    yield b'{"text": "'
    sent = 10
    while sent < total - 2:
        part = min(chunk, total - 2 - sent)
        yield b"a" * part
        sent += part
    yield b'"}'


@dataclass
class Case:
    """One attack: a name and what it sends (a function of the base URL returning the statuses seen)."""

    name: str
    run: Callable[[str], list[int]]
    statuses: list[int] = field(default_factory=list)
    growth: int = 0
    seconds: float = 0.0
    idle: int = 0
    healthz_p99: float = 0.0


def post_files(
    path: str, files: list[tuple[str, bytes]], headers: dict[str, str] = AUTH
) -> Callable[[str], list[int]]:
    def run(base: str) -> list[int]:
        parts = [("image", (name, data)) for name, data in files]
        with httpx.Client(base_url=base, timeout=120, headers=headers) as http:
            return [http.post(path, files=parts).status_code]

    return run


def post_json(path: str, body: object, times: int = 1, parallel: int = 1) -> Callable[[str], list[int]]:
    def one(base: str) -> int:
        with httpx.Client(base_url=base, timeout=120, headers=AUTH) as http:
            return http.post(path, json=body).status_code

    def run(base: str) -> list[int]:
        with ThreadPoolExecutor(parallel) as pool:
            return list(pool.map(one, [base] * (times * parallel)))

    return run


def unauthenticated_body(path: str, total: int) -> Callable[[str], list[int]]:
    def run(base: str) -> list[int]:
        headers = {"Content-Type": "application/json", "Content-Length": str(total)}
        with httpx.Client(base_url=base, timeout=60) as http:
            try:
                return [http.post(path, content=endless_body(total), headers=headers).status_code]
            except httpx.HTTPError:
                return [0]  # the server closed the connection without reading the rest: also fine

    return run


def in_parallel(run: Callable[[str], list[int]], count: int) -> Callable[[str], list[int]]:
    """``run`` from ``count`` clients at once."""

    def together(base: str) -> list[int]:
        with ThreadPoolExecutor(count) as pool:
            return [status for statuses in pool.map(run, [base] * count) for status in statuses]

    return together


def cases() -> list[Case]:
    webp_bomb = webp_lossless_declaring(10_000, 10_000)
    rgba_bomb = png_zero_bomb(10_000, 10_000)
    grey16_bomb = png_zero_bomb(10_000, 10_000, 0, 16)
    tiff_bomb, gif_bomb = float_tiff(10_000), transparent_gif(10_000)
    regions_image = base64.b64encode(noisy_png(2000)).decode()
    full = [0, 0, 2000, 2000]
    big_rgba = noisy_png(3000, "RGBA")
    return [
        Case(
            "unauthenticated 300 MB JSON body, keys on (/v1/embed/text)",
            unauthenticated_body("/v1/embed/text", 300 * MB),
        ),
        Case(
            "unauthenticated 300 MB JSON body, keys on (/clip/embed_image)",
            unauthenticated_body("/clip/embed_image", 300 * MB),
        ),
        Case("34-byte lossless WebP, 10000x10000 RGBA", post_files("/v1/embed", [("bomb.webp", webp_bomb)])),
        Case(
            "three WebP bombs in one request",
            post_files("/v1/embed", [(f"{i}.webp", webp_bomb) for i in range(3)]),
        ),
        Case(
            f"{len(rgba_bomb) // 1024} KB RGBA PNG, 10000x10000",
            post_files("/v1/embed", [("bomb.png", rgba_bomb)]),
        ),
        Case(
            f"{len(tiff_bomb) // 1024} KB float TIFF, 10000x10000",
            post_files("/v1/embed", [("bomb.tif", tiff_bomb)]),
        ),
        Case(
            f"{len(gif_bomb) // 1024} KB GIF with transparency, 10000x10000",
            post_files("/v1/embed", [("bomb.gif", gif_bomb)]),
        ),
        Case(
            f"{len(grey16_bomb) // 1024} KB 16-bit grey PNG, 10000x10000",
            post_files("/v1/embed", [("bomb.png", grey16_bomb)]),
        ),
        Case(
            "every bomb in one request",
            post_files(
                "/v1/embed",
                [
                    ("a.webp", webp_bomb),
                    ("b.png", rgba_bomb),
                    ("c.tif", tiff_bomb),
                    ("d.gif", gif_bomb),
                    ("e.png", grey16_bomb),
                ],
            ),
        ),
        Case(
            "regions: 2000x2000 PNG, 256 full-size boxes",
            post_json("/v1/embed/regions", {"image": regions_image, "boxes": [full] * 256}),
        ),
        Case(
            "regions: APIClaw boundingBoxes, 256 full-size",
            post_json(
                "/openapi/v2/model/image-embedding",
                {"image": f"data:image/png;base64,{regions_image}", "boundingBoxes": [full] * 256},
            ),
        ),
        Case(
            "regions: 16 full-size boxes (allowed), 2 at once",
            post_json(
                "/v1/embed/regions", {"image": regions_image, "boxes": [full] * 16}, times=2, parallel=2
            ),
        ),
        Case(
            "256 files of 1000x1000 in one request",
            post_files("/v1/embed", [(f"{i}.png", noisy_png(1000)) for i in range(256)]),
        ),
        Case(
            "3000x3000 RGBA PNGs (allowed), 4 requests at once",
            in_parallel(post_files("/v1/embed", [("big.png", big_rgba)]), 4),
        ),
    ]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank); 0 for none."""
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * q + 0.5) - 1)] if ordered else 0.0


def warm_up(base: str) -> None:
    """Normal traffic first, so that allocator pools and the model's buffers are part of "idle"."""
    small = noisy_png(400)
    with httpx.Client(base_url=base, timeout=60, headers=AUTH) as http:
        for _ in range(3):
            http.post(
                "/v1/embed", files=[("image", (f"{i}.png", small)) for i in range(8)]
            ).raise_for_status()
            http.post("/v1/embed/text", json={"text": "a red circle"}).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit-mb", type=float, default=300.0, help="largest allowed RSS growth per case")
    parser.add_argument("--p99-ms", type=float, default=200.0, help="largest allowed /healthz p99 meanwhile")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    args = parser.parse_args()

    print("building the attack files...", flush=True)
    attacks = [case for case in cases() if args.only is None or args.only in case.name]
    latencies: list[float] = []
    failures = 0
    print(
        f"load average {os.getloadavg()[0]:.2f}; per case: RSS over idle, wall time, /healthz p99, statuses",
        flush=True,
    )
    for case in attacks:
        # A fresh server per case: freed memory is not always returned to the system, so a case run after
        # another would be charged for what the earlier one left behind.
        with tempfile.TemporaryDirectory(prefix="pixembed-attack-") as tmp:
            process, base = start_server(Path(tmp) / "data", Path(tmp) / "server.log")
            try:
                warm_up(base)
                time.sleep(0.5)
                case.idle = psutil.Process(process.pid).memory_info().rss
                sampler, probe = RssSampler(process.pid), HealthProbe(base)
                started = time.monotonic()
                case.statuses = case.run(base)
                case.seconds = time.monotonic() - started
                case.growth = sampler.peak() - case.idle
                probe.stop()
                sampler.stop()
                latencies += probe.latencies
                case.healthz_p99 = percentile(probe.latencies, 0.99)
                failures += failures
            finally:
                process.terminate()
                process.wait(timeout=30)
        print(
            f"  {case.growth / MB:7.1f} MB  {case.seconds:6.2f} s  p99 {case.healthz_p99 * 1000:5.0f} ms"
            f"  {case.statuses}  {case.name} (idle {case.idle / MB:.0f} MB)",
            flush=True,
        )

    p50 = statistics.median(latencies) * 1000
    p99 = percentile(latencies, 0.99) * 1000
    print(f"/healthz while attacked: {len(latencies)} probes, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"{failures} failed; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    over = [case for case in attacks if case.growth >= args.limit_mb * MB]
    server_errors = [
        case for case in attacks if any(status >= 500 and status != 503 for status in case.statuses)
    ]
    if args.json:
        figures = {
            "cases": [
                {
                    "name": c.name,
                    "statuses": c.statuses,
                    "growth_mb": c.growth / MB,
                    "idle_mb": c.idle / MB,
                    "seconds": c.seconds,
                }
                for c in attacks
            ],
            "healthz_p50_ms": p50,
            "healthz_p99_ms": p99,
        }
        args.json.write_text(json.dumps(figures, indent=2))
    for case in over:
        print(f"FAIL: {case.name} grew the server by {case.growth / MB:.0f} MB (limit {args.limit_mb:.0f})")
    for case in server_errors:
        print(f"FAIL: {case.name} answered {case.statuses}")
    if p99 >= args.p99_ms or failures:
        print(f"FAIL: /healthz p99 {p99:.0f} ms (limit {args.p99_ms:.0f}), {failures} failed")
    sys.exit(1 if over or server_errors or p99 >= args.p99_ms or failures else 0)


if __name__ == "__main__":
    main()
