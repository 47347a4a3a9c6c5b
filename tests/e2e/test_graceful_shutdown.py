"""SIGTERM to a real ``pixembed serve``: the request in flight still gets its answer, then it exits."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import start_serve_process

pytestmark = pytest.mark.slow


def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path) -> None:
    process, base, log = start_serve_process(
        tmp_path / "data", {"PIXEMBED_SHUTDOWN_GRACE_S": "20", "PIXEMBED_API_KEYS": ""}
    )
    first_chunk_sent = threading.Event()
    terminated = threading.Event()
    outcome: dict[str, object] = {}

    def slow_body() -> Iterator[bytes]:
        yield b'{"text": '
        first_chunk_sent.set()
        terminated.wait(10)
        time.sleep(1.0)  # the server is shutting down all this while
        yield b'"a red circle"}'

    def client() -> None:
        try:
            response = httpx.post(
                f"{base}/v1/embed/text",
                content=slow_body(),
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            outcome["status"] = response.status_code
            outcome["body"] = response.json()
        except httpx.HTTPError as exc:
            outcome["error"] = repr(exc)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        assert first_chunk_sent.wait(10)
        time.sleep(0.5)  # let the server parse the headers: the request is now in flight
        process.send_signal(signal.SIGTERM)
        terminated.set()
        thread.join(30)
        assert outcome.get("status") == 200, outcome
        body = outcome["body"]
        assert isinstance(body, dict) and len(body["vector"]) == body["dimensions"]
        process.wait(timeout=30)
        output = log.read_text(errors="replace")
        # uvicorn re-raises the signal once it has shut down cleanly, as a well-behaved server should.
        assert process.returncode in (0, -signal.SIGTERM), output
        assert "Application shutdown complete" in output
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/healthz", timeout=2)
        logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert any(entry.get("route") == "/v1/embed/text" and entry.get("status") == 200 for entry in logged)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
