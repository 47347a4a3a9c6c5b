"""Slow clients cannot hold connections: headers and bodies sent a byte a second are cut off, on a real
uvicorn server with the options ``pixembed serve`` uses (raw sockets, every wait bounded)."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.factories import ServeApp

TIMEOUT_S = 2.0
GIVE_UP_S = 12.0  # far past the cut-off: the test fails rather than hang


@pytest.fixture
def server(serve_app: ServeApp) -> tuple[str, int]:
    parts = urlsplit(serve_app(read_timeout_s=TIMEOUT_S, body_min_rate_kb=1.0))
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def trickle(address: tuple[str, int], head: bytes, drip: bytes) -> tuple[float, bytes]:
    """Send ``head`` at once, then ``drip`` one byte a second; return (seconds until the server answered or
    hung up, what it sent)."""
    with socket.create_connection(address, timeout=GIVE_UP_S) as sock:
        sock.setblocking(False)
        started = time.monotonic()
        sock.sendall(head)
        received = b""
        for byte in drip:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    time.sleep(0.02)
                    continue
                except ConnectionResetError:
                    return time.monotonic() - started, received
                if not chunk:
                    return time.monotonic() - started, received  # the server closed the connection
                received += chunk
            if received.endswith(b"}"):
                return time.monotonic() - started, received
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started, received
            if time.monotonic() - started > GIVE_UP_S:
                break
        return time.monotonic() - started, received


def test_headers_sent_a_byte_a_second_are_cut_off(server: tuple[str, int]) -> None:
    head = b"POST /v1/embed/text HTTP/1.1\r\n"
    endless = b"X-Slow: " + b"a" * 200
    elapsed, received = trickle(server, head, endless)
    assert TIMEOUT_S - 0.5 <= elapsed < TIMEOUT_S + 2.0, elapsed
    assert received == b""  # closed, with nothing routed or answered


def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int]) -> None:
    with socket.create_connection(server, timeout=GIVE_UP_S) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server, not by our own timeout (which would raise)
        elapsed = time.monotonic() - started
    assert TIMEOUT_S - 0.5 <= elapsed < TIMEOUT_S + 2.0, elapsed


def test_a_body_sent_a_byte_a_second_is_a_408(server: tuple[str, int]) -> None:
    host, port = server
    head = (
        f"POST /v1/embed/text HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    ).encode()
    elapsed, received = trickle(server, head, b'{"text": "' + b"a" * 900)
    assert elapsed < TIMEOUT_S + 2.0, elapsed
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", received
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["error"] == "request_timeout" and "PIXEMBED_READ_TIMEOUT_S" in body["message"]


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line, body) of one response, read by its Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        body += chunk
    return head.split(b"\r\n", 1)[0], body


def test_prompt_clients_keep_their_keep_alive_connection(server: tuple[str, int]) -> None:
    host, port = server
    payload = b'{"text": "x"}'
    request = (
        f"POST /v1/embed/text HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    with socket.create_connection(server, timeout=GIVE_UP_S) as sock:
        for _ in range(3):
            sock.sendall(request)
            status, body = read_response(sock)
            assert status == b"HTTP/1.1 200 OK", body
            assert len(json.loads(body)["vector"]) > 0
            time.sleep(TIMEOUT_S * 0.75)  # idle between requests is keep-alive's business, not the deadline's
