"""fetch_url against a real HTTP server on 127.0.0.1: bodies, caps, slow servers, statuses, redirects."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from PIL import Image

from pixembed.errors import FetchFailed, PayloadTooLarge, UrlRefused
from pixembed.imaging import decode_image, fetch_url
from tests.helpers import encode
from tests.live_server import stream_slowly

IMAGE = encode(Image.new("RGB", (32, 24), (10, 200, 40)), "PNG")


class ImageServer(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[tuple[str, str]]


class Handler(BaseHTTPRequestHandler):
    server: ImageServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.requests.append((path, self.headers.get("Host", "")))
        if path == "/image.png":
            self.reply(200, IMAGE, {"Content-Type": "image/png"})
        elif path == "/endless":
            stream_slowly(self, b"\x00" * 65536, pause_s=0.0, seconds=20)
        elif path == "/trickle":
            stream_slowly(self, b"\x89", pause_s=0.2, length=10_000, seconds=20)
        elif path == "/declares-huge":
            self.reply(200, b"\x89PNG", {"Content-Length": str(10**10)})
        elif path.startswith("/hop/"):
            remaining = int(path.rsplit("/", 1)[1])
            self.redirect("/image.png" if remaining == 0 else f"/hop/{remaining - 1}")
        elif path == "/loop":
            self.redirect("/loop")
        elif path == "/to-file":
            self.redirect("file:///etc/passwd")
        else:
            self.reply(404, b"not here", {})

    def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.reply(302, b"", {"Location": location})


@pytest.fixture(scope="module")
def server() -> Iterator[ImageServer]:
    httpd = ImageServer(("127.0.0.1", 0), Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def base(server: ImageServer, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{server.server_address[1]}"


async def fetch(url: str, **overrides: object) -> bytes:
    options: dict[str, object] = {
        "max_bytes": 200_000,
        "connect_timeout_s": 2.0,
        "total_timeout_s": 5.0,
        "max_redirects": 3,
        "allow_private": True,
    }
    options.update(overrides)
    return await fetch_url(url, **options)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_an_image_is_fetched_whole_and_decodes(server: ImageServer) -> None:
    data = await fetch(base(server) + "/image.png")
    assert data == IMAGE
    assert decode_image(data, max_pixels=10_000).getpixel((3, 3)) == (10, 200, 40)


@pytest.mark.anyio
async def test_a_name_resolves_and_keeps_its_host_header(server: ImageServer) -> None:
    assert await fetch(base(server, "localhost") + "/image.png") == IMAGE
    assert server.requests[-1] == ("/image.png", f"localhost:{server.server_address[1]}")


@pytest.mark.anyio
async def test_loopback_is_refused_without_allow_private_and_nothing_is_sent(server: ImageServer) -> None:
    before = len(server.requests)
    with pytest.raises(UrlRefused, match="loopback"):
        await fetch(base(server) + "/image.png", allow_private=False)
    assert len(server.requests) == before


@pytest.mark.anyio
async def test_an_endless_body_stops_at_the_cap(server: ImageServer) -> None:
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge):
        await fetch(base(server) + "/endless", max_bytes=300_000)
    assert time.perf_counter() - started < 2.0


@pytest.mark.anyio
async def test_a_declared_length_over_the_cap_is_refused(server: ImageServer) -> None:
    with pytest.raises(PayloadTooLarge, match="declares"):
        await fetch(base(server) + "/declares-huge")


@pytest.mark.anyio
async def test_a_trickling_server_fails_at_the_total_deadline(server: ImageServer) -> None:
    started = time.perf_counter()
    # Each byte arrives well within the connect/read timeouts; only the total deadline can stop this.
    with pytest.raises(FetchFailed, match="took longer than 1 s"):
        await fetch(base(server) + "/trickle", total_timeout_s=1.0, connect_timeout_s=0.5)
    assert 0.9 <= time.perf_counter() - started < 2.0


@pytest.mark.anyio
async def test_a_404_fails_with_its_status(server: ImageServer) -> None:
    with pytest.raises(FetchFailed, match="404"):
        await fetch(base(server) + "/missing.png")


@pytest.mark.anyio
async def test_redirects_within_the_limit_are_followed(server: ImageServer) -> None:
    assert await fetch(base(server) + "/hop/2", max_redirects=3) == IMAGE


@pytest.mark.anyio
async def test_too_many_redirects_fail(server: ImageServer) -> None:
    with pytest.raises(FetchFailed, match="more than 3 redirects"):
        await fetch(base(server) + "/loop")
    with pytest.raises(FetchFailed, match="more than 2 redirects"):
        await fetch(base(server) + "/hop/3", max_redirects=2)


@pytest.mark.anyio
async def test_a_redirect_to_another_scheme_is_refused_even_when_private_is_allowed(
    server: ImageServer,
) -> None:
    with pytest.raises(UrlRefused, match="file"):
        await fetch(base(server) + "/to-file")


@pytest.mark.anyio
async def test_a_closed_port_fails_to_connect() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchFailed, match="could not connect"):
        await fetch(f"http://127.0.0.1:{port}/image.png")
