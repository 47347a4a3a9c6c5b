"""Three ``pixembed serve`` processes on one PostgreSQL (vectors and shared state), as a load balancer sees
them: separate processes on their own loopback ports and data folders, nothing shared but the database."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.live_server import ServeProcess, start_serve_process
from tests.postgres import create_database

ADMIN_KEY = "replica-admin-key-0123456789"
REPLICAS = 3
_databases = itertools.count()


class Replicas:
    """The running replicas, with what it takes to restart one on the same database."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self._started = itertools.count()
        with ThreadPoolExecutor(REPLICAS) as pool:
            self.processes = list(pool.map(lambda _: self._start(), range(REPLICAS)))

    def _start(self) -> ServeProcess:
        folder = self.root / f"replica-{next(self._started)}"
        folder.mkdir()
        # Several processes loading the model at once on a small CI box take longer than one alone.
        return start_serve_process(folder / "data", self.env, ready_timeout_s=300)

    @property
    def bases(self) -> list[str]:
        """Each replica's base URL."""
        return [p.base for p in self.processes]

    def client(self, index: int, key: str = ADMIN_KEY) -> httpx.Client:
        """An HTTP client for replica ``index`` carrying ``key``."""
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=self.processes[index].base, headers=headers, timeout=30)

    def restart(self, index: int) -> None:
        """Start a fresh process in place of replica ``index`` (after it was killed)."""
        self.processes[index] = self._start()

    def stop(self) -> None:
        """Terminate every replica still running."""
        for process in self.processes:
            if process.process.poll() is None:
                process.process.terminate()
        for process in self.processes:
            process.process.wait(timeout=30)


@pytest.fixture(scope="module")
def replicas(postgres_server_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Three replicas on one fresh database for vectors and state, with auth on through an admin key."""
    uri = create_database(postgres_server_uri, f"replicas_{next(_databases)}")
    # fp32: skips the per-process int8/fp32 timing that "auto" precision runs at first start.
    env = {
        "PIXEMBED_STORE": uri,
        "PIXEMBED_STATE": uri,
        "PIXEMBED_API_KEYS": ADMIN_KEY,
        "PIXEMBED_PRECISION": "fp32",
    }
    running = Replicas(tmp_path_factory.mktemp("replicas"), env)
    try:
        yield running
    finally:
        running.stop()
