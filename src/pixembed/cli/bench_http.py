"""HTTP measurements for ``pixembed bench``: a real ``pixembed serve`` process on loopback, real clients."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil


@dataclass(frozen=True)
class Server:
    """A running ``pixembed serve`` process: its URL, pid and how long it took to answer /readyz 200."""

    url: str
    pid: int
    ready_s: float

    def rss_mb(self) -> float:
        """The server process's resident memory now, in MB."""
        return float(psutil.Process(self.pid).memory_info().rss) / 1e6


@dataclass(frozen=True)
class LoadResult:
    """Latencies of one load pattern: ``clients`` concurrent clients, each sending one image at a time."""

    label: str
    clients: int
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    per_s: float


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(args: list[str], data_dir: Path, timeout_s: float = 180.0) -> Iterator[Server]:
    """Start ``pixembed serve ARGS`` on a free loopback port; stop it (by its pid) on exit."""
    port = free_port()
    command = [sys.executable, "-m", "pixembed", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    env = os.environ | {"PIXEMBED_DATA_DIR": str(data_dir)}
    with run_server(command, port, env, timeout_s) as server:
        yield server


@contextmanager
def run_server(
    command: list[str], port: int, env: dict[str, str], timeout_s: float = 180.0
) -> Iterator[Server]:
    """Run ``command`` (a server listening on 127.0.0.1:``port`` with a /readyz route) until it answers 200;
    stop it on exit. Also starts the peer servers that benchmarks/bench_http_peers.py compares with."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"{command[:4]} exited with {process.returncode}: {stderr[-2000:]}")
            if time.perf_counter() - started > timeout_s:
                raise RuntimeError(f"{command[:4]} was not ready after {timeout_s:.0f} s")
            try:
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        yield Server(url, process.pid, time.perf_counter() - started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _client(
    http: httpx.AsyncClient, url: str, jpeg: bytes, count: int, latencies: list[float], errors: list[str]
) -> None:
    for _ in range(count):
        started = time.perf_counter()
        try:
            response = await http.post(f"{url}/v1/embed", files={"image": ("photo.jpg", jpeg, "image/jpeg")})
            if response.status_code != 200:
                errors.append(f"{response.status_code}: {response.text[:200]}")
                continue
        except httpx.HTTPError as exc:
            errors.append(repr(exc))
            continue
        latencies.append(time.perf_counter() - started)


async def _load(url: str, jpeg: bytes, clients: int, per_client: int) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120.0, limits=limits) as http:
        await _client(http, url, jpeg, 1, [], [])  # warm-up: connection, first-request code paths
        started = time.perf_counter()
        await asyncio.gather(
            *(_client(http, url, jpeg, per_client, latencies, errors) for _ in range(clients))
        )
        wall = time.perf_counter() - started
    return latencies, errors, wall


def measure_load(url: str, label: str, jpeg: bytes, clients: int, per_client: int) -> LoadResult:
    """``clients`` concurrent clients each POST ``jpeg`` to /v1/embed ``per_client`` times, one at a time."""
    latencies, errors, wall = asyncio.run(_load(url, jpeg, clients, per_client))
    ms = sorted(1000 * t for t in latencies) or [float("nan")]
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return LoadResult(
        label, clients, clients * per_client, len(errors), statistics.median(ms), p99, len(latencies) / wall
    )
