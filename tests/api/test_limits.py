"""Body limits: the request cap bites while streaming, multipart file-count and field-size caps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from pixembed.api import create_app
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel

CHUNK = 10_000
CHUNKS = 1_000  # 10 MB offered in all


class CountingBody:
    """A chunked JSON body of 10 MB that records how much of it the server pulled."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"image": "'
        for _ in range(CHUNKS):
            self.sent += 1
            yield b"A" * CHUNK
        yield b'"}'


@pytest.fixture
def small_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"max_request_mb": 0.1, "max_batch_items": 3, "max_form_fields": 5, "max_form_field_kb": 1}
    )


@pytest.fixture
def small_client(tiny_model: ClipModel, small_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(small_settings, tiny_model)) as client:
        yield client


@pytest.mark.parametrize("path", ["/v1/embed", "/v1/compare", "/v1/embed/search", "/clip/embed_image"])
def test_a_streamed_body_is_refused_before_it_is_all_read(
    tiny_model: ClipModel, small_settings: Settings, path: str
) -> None:
    # httpx's ASGI transport hands the body over chunk by chunk as the app asks (TestClient reads it all).
    body = CountingBody()

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(small_settings, tiny_model))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(path, content=body, headers={"Content-Type": "application/json"})

    response = asyncio.run(post())
    assert response.status_code == 413
    assert "PIXEMBED_MAX_REQUEST_MB" in response.text
    # 0.1 MB is 11 chunks: the server stopped reading long before the 1,000 on offer.
    assert body.sent < 20


def test_a_declared_length_over_the_cap_is_refused_without_reading(small_client: TestClient) -> None:
    response = small_client.post(
        "/v1/embed", content=b"x" * 200_000, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_too_many_files_is_a_400_naming_the_limit(small_client: TestClient) -> None:
    files = [("image", (f"{i}.png", b"x")) for i in range(4)]
    response = small_client.post("/v1/embed", files=files)
    assert response.status_code == 400
    assert response.json()["error"] == "too_many_items" and "limit is 3" in response.json()["message"]


def test_an_oversized_form_field_is_a_413(small_client: TestClient) -> None:
    response = small_client.post(
        "/v1/compare", files={"image": ("a.png", b"x")}, data={"prompts": "p" * 5000}
    )
    assert response.status_code == 413
    assert "PIXEMBED_MAX_FORM_FIELD_KB" in response.json()["message"]


def test_too_many_form_fields_is_a_400(small_client: TestClient) -> None:
    response = small_client.post(
        "/v1/compare", files={"image": ("a.png", b"x")}, data={"prompts": [f"p{i}" for i in range(10)]}
    )
    assert response.status_code == 400
    assert "PIXEMBED_MAX_FORM_FIELDS" in response.json()["message"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/embed/text", "error"),
        ("/api/ai/embeddings", "error"),
        ("/clip/embed_text", "message"),
        ("/openapi/v2/model/image-detection", "success"),
        ("/api/predict/nlp/p/e", "status_code"),
    ],
)
def test_a_body_that_is_not_even_utf8_is_a_400_in_each_services_shape(
    small_client: TestClient, path: str, field: str
) -> None:
    # Found by schemathesis: FastAPI's own "error parsing the body" used to leave in the native shape.
    response = small_client.post(path, content=b"\xff\xfe", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert field in response.json()
