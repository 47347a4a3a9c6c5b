"""Browsers cannot be used against the server: foreign Host headers (DNS rebinding) and cross-site writes are
refused, CORS answers only the allowed origins, on native and compatibility routes alike."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.factories import MakeClient
from tests.helpers import encode

SERVER = "http://127.0.0.1:8000"
EVIL = "https://evil.example"
PNG = encode(Image.new("RGB", (24, 24), "blue"))


@pytest.fixture
def open_loopback(make_client: MakeClient) -> Callable[..., TestClient]:
    """Opens clients of a server on 127.0.0.1:8000, with the settings changes given."""

    def open_client(**changes: object) -> TestClient:
        # allowed_hosts is set explicitly: the test session allows TestClient's own "testserver" name.
        return make_client(base_url=SERVER, **{"allowed_hosts": [], "port": 8000, **changes})

    return open_client


@pytest.fixture
def loopback(open_loopback: Callable[..., TestClient]) -> TestClient:
    return open_loopback()


def test_a_rebinding_host_cannot_create_an_admin_key(loopback: TestClient) -> None:
    # Issue 14: Host: rebind.attacker.example:PORT created an admin key on a keyless loopback server.
    body = {"name": "x", "scopes": ["read", "write", "admin"]}
    refused = loopback.post("/v1/keys", json=body, headers={"Host": "rebind.attacker.example:8000"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    assert "PIXEMBED_ALLOWED_HOSTS" in refused.json()["message"]
    assert loopback.get("/v1/collections", headers={"Host": "rebind.attacker.example"}).status_code == 400
    assert loopback.get("/v1/keys").json()["keys"] == []


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST", "127.0.0.1"])
def test_loopback_names_are_accepted(loopback: TestClient, host: str) -> None:
    assert loopback.get("/v1/collections", headers={"Host": host}).status_code == 200


def test_a_cross_site_upload_writes_nothing(loopback: TestClient) -> None:
    assert loopback.post("/v1/collections", json={"name": "c"}).status_code == 201
    files = {"image": ("a.png", PNG, "image/png")}
    for headers in (
        {"Origin": EVIL},
        {"Origin": "null"},  # sandboxed frames and file: pages
        {"Origin": "http://localhost:3000"},  # another local app is another origin
        {"Referer": f"{EVIL}/page.html"},  # no Origin: the Referer says where the page is
    ):
        refused = loopback.post("/v1/collections/c/items", files=files, headers=headers)
        assert refused.status_code == 403, headers
        assert refused.json()["error"] == "forbidden"
        assert "PIXEMBED_CORS_ORIGINS" in refused.json()["message"]
    for method in ("PUT", "PATCH", "DELETE"):
        assert loopback.request(method, "/v1/collections/c", headers={"Origin": EVIL}).status_code == 403
    assert loopback.get("/v1/collections/c").json()["count"] == 0
    # The page at / posts with its own origin; scripts and SDKs send no Origin at all.
    own = loopback.post("/v1/collections/c/items", files=files, headers={"Origin": SERVER})
    assert own.status_code == 200
    assert loopback.post("/v1/collections/c/items", files=files).status_code == 200
    assert loopback.post("/v1/embed", files=files, headers={"Referer": f"{SERVER}/"}).status_code == 200
    # Reads are not refused (CORS keeps their answers from a foreign page anyway).
    assert loopback.get("/v1/collections/c", headers={"Origin": EVIL}).json()["count"] == 2


def test_allowed_hosts_name_the_server_behind_a_proxy(open_loopback: Callable[..., TestClient]) -> None:
    client = open_loopback(allowed_hosts=["api.example.com", "*.pixembed.test"])
    assert client.get("/healthz", headers={"Host": "api.example.com"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "eu.pixembed.test:443"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "pixembed.test.evil"}).status_code == 400
    # A proxy that forwards to 127.0.0.1 with its own Host: the public page is still this server's.
    page = {"Origin": "https://api.example.com"}
    assert client.post("/v1/embed/text", json={"text": "x"}, headers=page).status_code == 200
    other = {"Origin": "https://eu.pixembed.test"}  # a wildcard names hosts, not trusted pages
    assert client.post("/v1/embed/text", json={"text": "x"}, headers=other).status_code == 403


def test_a_server_on_every_interface_accepts_its_addresses_but_not_foreign_names(
    open_loopback: Callable[..., TestClient],
) -> None:
    client = open_loopback(host="0.0.0.0")
    for host in ("192.168.1.20:8000", "[2001:db8::5]:8000", "localhost:8000"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
    assert client.get("/healthz", headers={"Host": "rebind.attacker.example"}).status_code == 400
    client = open_loopback(allowed_hosts=["*"])
    assert client.get("/healthz", headers={"Host": "anything.example"}).status_code == 200


COMPAT_ROUTES = [
    "/api/ai/embeddings",
    "/v1/embed",
    "/clip/embed_image",
    "/openapi/v2/model/image-embedding",
    "/api/predict/file/project/endpoint",
    "/v1/collections/c/items",
]


@pytest.mark.parametrize("path", COMPAT_ROUTES)
def test_preflights_are_answered_for_allowed_origins_only(
    open_loopback: Callable[..., TestClient], path: str
) -> None:
    app = "https://app.example"
    client = open_loopback(cors_origins=[app])
    preflight = {
        "Origin": app,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-api-key, authorization",
    }
    allowed = client.options(path, headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == app
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    refused = client.options(path, headers={**preflight, "Origin": EVIL})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_an_allowed_origin_may_write_and_read_the_answer(open_loopback: Callable[..., TestClient]) -> None:
    app = "https://app.example"
    client = open_loopback(cors_origins=[app])
    image = encode(Image.new("RGB", (32, 32), "red"))
    body = {"image": "data:image/png;base64," + base64.b64encode(image).decode()}
    answered = client.post("/api/ai/embeddings", json=body, headers={"Origin": app})
    assert answered.status_code == 200
    assert answered.headers["access-control-allow-origin"] == app
    assert "x-request-id" in answered.headers["access-control-expose-headers"].lower()
    foreign = client.post("/api/ai/embeddings", json=body, headers={"Origin": EVIL})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers


def test_without_cors_origins_no_page_gets_cors_headers(loopback: TestClient) -> None:
    answered = loopback.get("/healthz", headers={"Origin": EVIL})
    assert answered.status_code == 200 and "access-control-allow-origin" not in answered.headers
    preflight = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    answered = loopback.options("/api/ai/embeddings", headers=preflight)
    assert "access-control-allow-origin" not in answered.headers
