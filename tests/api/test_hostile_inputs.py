"""Hostile and malformed inputs through the real app: each gets its documented status, never a 5xx, and
memory stays bounded (docs/hostile-inputs.md lists the statuses).

Memory bound: after one warm-up pass over the whole corpus, a second pass grows this process's RSS by
less than 64 MiB; no single upload may make the process allocate a decompression bomb's pixels.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import psutil
import pytest
from fastapi.testclient import TestClient

from pixembed.api import create_app
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from tests.hostile import JSON_CAP_MB, REFUSED_URLS, REQUEST_CASES, Case, RequestCase, image_cases
from tests.live_server import stream_slowly

CASES = image_cases()
# A quarter of the corpus again as base64, and always the empty file (which a stride can miss).
BASE64_CASES = CASES[::4] + [case for case in CASES if not case.data and case not in CASES[::4]]
RSS_GROWTH_BOUND = 64 * 1024 * 1024


class HostileHandler(BaseHTTPRequestHandler):
    """A server that misbehaves on purpose, one path per trick."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        routes = {
            "/to-metadata": ("http://169.254.169.254/latest/meta-data/iam/", None),
            "/to-mapped-metadata": ("http://[::ffff:169.254.169.254]/", None),
            "/to-file": ("file:///etc/passwd", None),
            "/loop": ("/loop", None),
        }
        if self.path in routes:
            self.send_response(302)
            self.send_header("Location", routes[self.path][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/endless":
            stream_slowly(self, b"\x89PNG" + b"\x00" * 65532, pause_s=0.0)
        elif self.path == "/trickle":
            stream_slowly(self, b"\xff", pause_s=0.2, length=100_000)
        elif self.path == "/page.html":
            body = b"<html><body>not an image</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# Served by the hostile server to an app that allows private addresses (so it can reach loopback):
# what still must be refused or cut off.
SERVER_CASES = [
    ("/to-metadata", 400, "url_refused"),
    ("/to-mapped-metadata", 400, "url_refused"),
    ("/to-file", 400, "url_refused"),
    ("/loop", 422, "fetch_failed"),
    ("/endless", 413, "payload_too_large"),
    ("/trickle", 422, "fetch_failed"),
    ("/page.html", 415, "unsupported_media_type"),
    ("/missing.png", 422, "fetch_failed"),
]


@pytest.fixture(scope="module")
def app_client(tiny_model: ClipModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(model="pixembed-tiny", data_dir=tmp_path_factory.mktemp("hostile"), max_upload_mb=2.0)
    with TestClient(create_app(settings, tiny_model)) as client:
        yield client


@pytest.fixture(scope="module")
def private_client(tiny_model: ClipModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        model="pixembed-tiny",
        data_dir=tmp_path_factory.mktemp("hostile-private"),
        allow_private_urls=True,
        fetch_total_timeout_s=1.5,
        max_upload_mb=1.0,
    )
    with TestClient(create_app(settings, tiny_model)) as client:
        yield client


def check(response_status: int, body: dict[str, object], status: int, error: str | None, what: str) -> None:
    assert response_status == status, (what, body)
    if error is None:
        vector = np.asarray(body["vector"])
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3, what
    else:
        assert body["error"] == error and body["status"] == status, (what, body)
        assert isinstance(body["message"], str) and body["message"], what


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) + len(REFUSED_URLS) + len(SERVER_CASES) + len(REQUEST_CASES) >= 50
    assert len({case.name for case in CASES}) == len(CASES)
    assert [case.name for case in BASE64_CASES if not case.data] == ["empty.jpg"]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_upload_gets_its_documented_status(app_client: TestClient, case: Case) -> None:
    response = app_client.post("/v1/embed", files={"image": (case.name, case.data)})
    check(response.status_code, response.json(), case.status, case.error, case.name)


@pytest.mark.parametrize("case", BASE64_CASES, ids=[case.name for case in BASE64_CASES])
def test_the_same_bytes_as_base64_get_the_same_status(app_client: TestClient, case: Case) -> None:
    response = app_client.post("/v1/embed", json={"image": base64.b64encode(case.data).decode()})
    if not case.data:
        # An empty base64 string is a malformed request (400), where an empty file is not an image (415).
        check(response.status_code, response.json(), 400, "invalid_request", case.name)
        assert "empty" in response.json()["message"]
    else:
        check(response.status_code, response.json(), case.status, case.error, case.name)


@pytest.mark.parametrize(
    ("image", "status"),
    [("", 400), ("data:image/png,notbase64", 400), ("@@@@", 400), ("A" * 5_000_000, 413), ("QQ=", 415)],
)
def test_malformed_inline_images_are_4xx(app_client: TestClient, image: str, status: int) -> None:
    response = app_client.post("/v1/embed", json={"image": image})
    assert response.status_code == status, response.text


@pytest.mark.parametrize(("url", "status", "error"), REFUSED_URLS, ids=[u for u, _, _ in REFUSED_URLS])
def test_adversarial_urls_are_refused(app_client: TestClient, url: str, status: int, error: str) -> None:
    response = app_client.post("/v1/embed", json={"image": url})
    check(response.status_code, response.json(), status, error, url)


@pytest.mark.parametrize(("path", "status", "error"), SERVER_CASES, ids=[p for p, _, _ in SERVER_CASES])
def test_a_misbehaving_server_is_cut_off(
    private_client: TestClient, hostile_server: str, path: str, status: int, error: str
) -> None:
    started = time.monotonic()
    response = private_client.post("/v1/embed", json={"image": hostile_server + path})
    check(response.status_code, response.json(), status, error, path)
    assert time.monotonic() - started < 5  # the total fetch deadline (1.5 s) holds


@pytest.mark.slow
def test_the_whole_corpus_leaves_the_server_up_with_bounded_memory(app_client: TestClient) -> None:
    def one_pass() -> None:
        for case in CASES:
            response = app_client.post("/v1/embed", files={"image": (case.name, case.data)})
            assert response.status_code == case.status, case.name
        for url, status, _ in REFUSED_URLS:
            assert app_client.post("/v1/embed", json={"image": url}).status_code == status

    process = psutil.Process()
    one_pass()  # warm-up: allocator pools, codec tables and the model's buffers settle
    before = process.memory_info().rss
    one_pass()
    growth = process.memory_info().rss - before
    assert growth < RSS_GROWTH_BOUND, f"RSS grew {growth / 2**20:.1f} MiB over one corpus pass"
    assert app_client.get("/healthz").status_code == 200
    assert app_client.get("/readyz").status_code == 200


@pytest.fixture(scope="module")
def guarded_client(tiny_model: ClipModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Default Host policy (loopback names only) and a small JSON cap, addressed as a loopback server."""
    settings = Settings(
        model="pixembed-tiny",
        data_dir=tmp_path_factory.mktemp("hostile-requests"),
        allowed_hosts=[],
        max_json_mb=JSON_CAP_MB,
    )
    with TestClient(create_app(settings, tiny_model), base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.mark.parametrize("case", REQUEST_CASES, ids=[case.name for case in REQUEST_CASES])
def test_each_hostile_request_gets_its_documented_status(
    guarded_client: TestClient, case: RequestCase
) -> None:
    response = guarded_client.request(case.method, case.path, headers=case.headers, json=case.json)
    assert response.status_code == case.status, response.text
    body = response.json()
    assert body["error"] == case.error and body["status"] == case.status
    assert isinstance(body["message"], str) and body["message"]
    # Nothing was written: the key store and the collections are as empty as they started.
    assert guarded_client.get("/v1/keys").json()["keys"] == []
    assert guarded_client.get("/v1/collections").json()["data"] == []
