"""Real servers on loopback for tests that talk HTTP the way users do: in a thread, or as a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import NamedTuple

import httpx
import uvicorn
from fastapi import FastAPI

from pixembed.api.server import uvicorn_options
from pixembed.api.state import state_of


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 at a free port until the block ends; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    options = uvicorn_options(state_of(app).settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class ServeProcess(NamedTuple):
    """A ``pixembed serve`` process, its base URL, and the file its output goes to."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path


def start_serve_process(
    data_dir: Path, env: dict[str, str] | None = None, ready_timeout_s: float = 60
) -> ServeProcess:
    """``pixembed serve`` (tiny model) as its own process on a free loopback port, once it is ready.

    Its output goes to a file beside ``data_dir`` (a pipe nobody reads would fill and stall the server).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = data_dir.parent / f"serve-{port}.log"
    command = [sys.executable, "-m", "pixembed", "serve", "--model", "pixembed-tiny", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return ServeProcess(process, base, log)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    raise AssertionError(f"server did not become ready:\n{log.read_text(errors='replace')}")


def stream_slowly(
    handler: BaseHTTPRequestHandler,
    chunk: bytes,
    pause_s: float,
    length: int | None = None,
    seconds: float = 15,
) -> None:
    """Answer 200 and send ``chunk`` over and over for up to ``seconds`` (a misbehaving image host), with a
    Content-Length of ``length`` when given; stops quietly when the client hangs up."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    if length is not None:
        handler.send_header("Content-Length", str(length))
    handler.end_headers()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            handler.wfile.write(chunk)
            handler.wfile.flush()
            time.sleep(pause_s)
    except OSError:
        pass  # pixembed hung up, as it should
