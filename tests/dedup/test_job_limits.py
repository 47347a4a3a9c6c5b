"""Background jobs waiting to start are capped in all and per API key: 429 + Retry-After beyond (issue 14)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pixembed.api import create_app
from pixembed.api.state import state_of
from pixembed.config import Settings
from pixembed.errors import RateLimited
from pixembed.runtime.model import ClipModel
from pixembed.services.jobs import JobRunner


def _blocker(release: threading.Event) -> Callable[[Callable[[float], None]], Any]:
    def work(_: Callable[[float], None]) -> str:
        release.wait(10)
        return "done"

    return work


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_the_runner_caps_waiting_jobs_per_owner_and_in_all(release: threading.Event) -> None:
    runner = JobRunner(workers=1, max_queued=3, max_queued_per_owner=2)
    try:
        runner.submit("busy", _blocker(release), owner="a")  # takes the only worker
        for _ in range(100):
            if runner.get(next(iter(runner._jobs))).status == "running":
                break
            threading.Event().wait(0.01)
        runner.submit("x", _blocker(release), owner="a")
        runner.submit("x", _blocker(release), owner="a")
        with pytest.raises(RateLimited, match="you already have 2 jobs waiting") as mine:
            runner.submit("x", _blocker(release), owner="a")
        assert mine.value.retry_after_s is not None and mine.value.retry_after_s > 0
        runner.submit("x", _blocker(release), owner="b")  # another key still has room: 3 waiting now
        with pytest.raises(RateLimited, match="3 jobs are already waiting"):
            runner.submit("x", _blocker(release), owner="c")
        release.set()  # once they run, the queue has room again
        for _ in range(500):
            if all(j.status == "done" for j in runner._jobs.values()):
                break
            threading.Event().wait(0.01)
        assert runner.submit("x", _blocker(release), owner="a").status in ("queued", "running", "done")
    finally:
        release.set()
        runner.close()


def test_the_http_route_answers_429_with_retry_after(
    tiny_model: ClipModel, settings: Settings, release: threading.Event
) -> None:
    capped = settings.model_copy(update={"max_queued_jobs": 50, "max_queued_jobs_per_key": 3})
    with TestClient(create_app(capped, tiny_model)) as client:
        assert client.post("/v1/collections", json={"name": "c"}).status_code == 201
        assert (
            client.post("/v1/collections/c/items", json={"items": [{"vector": [1.0] * 128}]}).status_code
            == 200
        )
        first = client.post("/v1/collections/c/dedup", json={"background": True})
        assert first.status_code == 202
        # Occupy the one worker so that the next jobs wait.
        state_of(client.app).analysis.runner.submit("busy", _blocker(release))
        statuses = [
            client.post("/v1/collections/c/cluster", json={"k": 1, "background": True}) for _ in range(6)
        ]
        codes = [r.status_code for r in statuses]
        assert codes.count(202) <= 4 and codes[-1] == 429, codes
        refused = statuses[-1]
        assert (
            refused.json()["error"] == "rate_limited"
            and "PIXEMBED_MAX_QUEUED_JOBS_PER_KEY" in refused.json()["message"]
        )
        assert int(refused.headers["Retry-After"]) >= 1
        assert client.get("/healthz").status_code == 200
