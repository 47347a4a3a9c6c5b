"""Bad input gets its documented 4xx and a JSON error body, never a 500."""

from __future__ import annotations

import functools

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pixembed.api.state import state_of
from pixembed.imaging import fetch_url
from pixembed.services import inputs
from tests.helpers import encode, png_declaring


def _assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["message"]
    if code:
        assert body["error"] == code


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (encode(Image.new("RGB", (64, 64), "red"), "JPEG")[:200], 422),  # truncated JPEG
        (b"", 415),  # zero bytes
        (b"hello, I am a text file\n", 415),  # text named .jpg
        (png_declaring(20000, 20000), 413),  # decompression bomb
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", 415),
    ],
    ids=["truncated-jpeg", "zero-bytes", "text-as-jpg", "png-20000x20000", "svg"],
)
def test_bad_uploads(client: TestClient, payload: bytes, status: int) -> None:
    _assert_error(client.post("/v1/embed", files={"image": ("photo.jpg", payload, "image/jpeg")}), status)


def test_over_limit_upload_is_413(client: TestClient) -> None:
    state_of(client.app).settings.max_upload_mb = 0.01
    big = b"\xff\xd8\xff" + b"\x00" * 20_000
    _assert_error(client.post("/v1/embed", files={"image": ("big.jpg", big)}), 413, "payload_too_large")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.jpg",
        "http://10.0.0.1/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.jpg",
        "http://localhost:8000/x.jpg",
        "file:///etc/passwd",
    ],
)
def test_private_urls_are_refused(client: TestClient, url: str) -> None:
    _assert_error(client.post("/v1/embed", json={"image": {"url": url}}), 400, "url_refused")


def test_redirect_to_loopback_is_refused(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://127.0.0.1/admin.png"})

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    fake = functools.partial(fetch_url, transport=httpx.MockTransport(handler), resolver=public)
    monkeypatch.setattr(inputs, "fetch_url", fake)
    response = client.post("/v1/embed", json={"image": "http://images.example/cat.jpg"})
    _assert_error(response, 400, "url_refused")
    assert "127.0.0.1" in response.json()["message"]


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/v1/embed", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        ("/v1/embed", {"json": {}}),
        ("/v1/embed", {"json": {"image": 42}}),
        ("/v1/embed", {"json": {"image": "%%%not base64%%%"}}),
        ("/v1/embed", {"content": b"raw", "headers": {"content-type": "text/plain"}}),
        ("/v1/embed", {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}}),
        ("/v1/embed/text", {"json": {"text": []}}),
        ("/v1/embed/text", {"json": {"text": "x" * 5000}}),
        ("/v1/embed/text", {"json": {"texts": "wrong field"}}),
        ("/v1/compare", {"json": {"subject": "a cat", "subject_type": "text", "prompts": []}}),
        ("/v1/compare", {"json": {"subject": {"url": "x", "base64": "y"}, "prompts": ["a"]}}),
        ("/v1/embed/search", {"json": {"query_text": "a", "dataset": []}}),
        ("/v1/embed/search", {"json": {"dataset": ["aGk="]}}),
        ("/v1/embed/search", {"data": {"query_text": "a", "top_k": "many"}, "files": {"dataset": b"x"}}),
    ],
)
def test_malformed_requests_are_400(client: TestClient, path: str, kwargs: dict[str, object]) -> None:
    response = client.post(path, **kwargs)  # type: ignore[arg-type]
    assert 400 <= response.status_code < 500, response.text
    assert response.status_code in (400, 415)
    assert response.json()["message"]


def test_unknown_route_and_method_use_the_error_body(client: TestClient) -> None:
    _assert_error(client.get("/v1/nothing"), 404, "not_found")
    _assert_error(client.get("/v1/embed"), 405, "method_not_allowed")
