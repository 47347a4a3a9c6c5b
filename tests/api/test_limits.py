"""Body limits: the request cap bites while streaming, multipart file-count and field-size caps."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from pixembed.api.bodies import BodyLimitMiddleware
from pixembed.api.errors import error_response
from pixembed.api.state import state_of
from pixembed.config import Settings
from pixembed.errors import RequestTimeout
from tests.factories import MakeApp, MakeClient
from tests.helpers import encode

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
def small_client(make_client: MakeClient, small_settings: Settings) -> TestClient:
    return make_client(small_settings)


@pytest.mark.parametrize("path", ["/v1/embed", "/v1/compare", "/v1/embed/search", "/clip/embed_image"])
def test_a_streamed_body_is_refused_before_it_is_all_read(
    make_app: MakeApp, small_settings: Settings, path: str
) -> None:
    # httpx's ASGI transport hands the body over chunk by chunk as the app asks (TestClient reads it all).
    body = CountingBody()

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=make_app(small_settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(path, content=body, headers={"Content-Type": "application/json"})

    response = asyncio.run(post())
    assert response.status_code == 413
    assert "PIXEMBED_MAX_REQUEST_MB" in response.text
    # 0.1 MB is 11 chunks: the server stopped reading long before the 1,000 on offer.
    assert body.sent < 20


async def _post_counting(
    app: FastAPI, path: str, body: CountingBody, headers: dict[str, str]
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, content=body, headers=headers)


def test_a_declared_length_over_the_cap_is_refused_without_reading(
    make_app: MakeApp, small_settings: Settings
) -> None:
    body = CountingBody()
    declared = {"Content-Type": "application/json", "Content-Length": str(CHUNK * CHUNKS + 13)}
    response = asyncio.run(_post_counting(make_app(small_settings), "/v1/embed", body, declared))
    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "message": "request body is over 0.1 MB (PIXEMBED_MAX_REQUEST_MB); send fewer or smaller files",
        "status": 413,
    }
    assert body.sent == 0  # not one chunk was pulled: the Content-Length alone decided


@pytest.fixture
def json_capped(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_json_mb": 0.05, "max_request_mb": 2.0})


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "streamed"])
def test_json_bodies_have_their_own_lower_cap(
    make_app: MakeApp, json_capped: Settings, declare: bool
) -> None:
    body = CountingBody()
    headers = {"Content-Type": "application/json"}
    if declare:
        headers["Content-Length"] = str(CHUNK * CHUNKS + 13)
    response = asyncio.run(_post_counting(make_app(json_capped), "/v1/embed/text", body, headers))
    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "message": "request body is over 0.05 MB (PIXEMBED_MAX_JSON_MB); send images as multipart/form-data "
        "files, or fewer items per request",
        "status": 413,
    }
    # 0.05 MB is 6 chunks: declared, none is read; streamed, reading stops as soon as the cap is passed.
    assert body.sent == 0 if declare else body.sent <= 7


def test_multipart_bodies_keep_the_request_cap(make_client: MakeClient, json_capped: Settings) -> None:
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    png = encode(noisy)
    assert len(png) > 100_000  # twice the JSON cap
    client = make_client(json_capped)
    response = client.post("/v1/embed", files={"image": ("noise.png", png, "image/png")})
    assert response.status_code == 200, response.text


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


def _protected_body_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route that takes a body and documents a key, path parameters filled in."""
    routes = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if method in ("post", "put", "patch") and operation.get("security"):
                routes.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path)))
    return routes


async def _post_each(app: FastAPI, routes: list[tuple[str, str]]) -> list[tuple[str, int, int]]:
    results = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for method, path in routes:
            body = CountingBody()
            # Roboflow may carry its key in the body; a wrong key in the query string must not need it.
            params = {"api_key": "pxe_000000000000_wrong"} if path.startswith("/clip/") else None
            response = await client.request(
                method, path, content=body, params=params, headers={"Content-Type": "application/json"}
            )
            results.append((f"{method} {path}", response.status_code, body.sent))
    return results


def test_no_route_reads_a_body_before_it_has_checked_the_key(make_app: MakeApp) -> None:
    # Issue 14: with no key, a 1000 MiB body to /clip/embed_image was read whole (RSS +4.9 GB) before a 401.
    app = make_app()
    state_of(app).keys.store.create("someone", ("read", "write", "admin"))
    routes = _protected_body_routes(app)
    assert len(routes) >= 20 and ("POST", "/clip/embed_image") in routes and ("POST", "/v1/keys") in routes
    results = asyncio.run(_post_each(app, routes))
    assert [r for r in results if r[1:] != (401, 0)] == []


def test_a_body_that_may_carry_the_key_is_capped_low(make_app: MakeApp) -> None:
    # Roboflow's body is read before auth when the key is only there, so it is capped at one base64 upload.
    app = make_app(max_upload_mb=0.03)
    state_of(app).keys.store.create("someone", ("read",))
    body = CountingBody()
    response = asyncio.run(
        _post_counting(app, "/clip/embed_image", body, {"Content-Type": "application/json"})
    )
    assert response.status_code == 413
    message = response.json()["message"]
    assert set(response.json()) == {"message"}  # Roboflow's error shape
    assert "capped at one base64 image of PIXEMBED_MAX_UPLOAD_MB" in message
    assert body.sent <= 12  # ~106 KB of the 10 MB on offer


async def _drive(middleware: BodyLimitMiddleware, chunks: list[bytes], gap_s: float, late_s: float) -> int:
    """Run ``middleware`` over an app that starts reading ``late_s`` after the request arrives, with a
    client that sends ``chunks`` ``gap_s`` apart; the response status."""
    pending = list(chunks)
    statuses: list[int] = []

    async def receive() -> Message:
        await asyncio.sleep(gap_s)
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(late_s)
        try:
            while (await receive()).get("more_body"):
                pass
        except RequestTimeout as exc:
            await error_response(exc)(scope, receive, send)
            return
        await PlainTextResponse("read")(scope, receive, send)

    middleware.app = app
    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await middleware(scope, receive, send)
    return statuses[0]


def test_only_time_spent_waiting_on_the_client_counts() -> None:
    guard = BodyLimitMiddleware(
        PlainTextResponse("unused"),
        max_request_bytes=10**6,
        max_json_bytes=10**6,
        read_timeout_s=0.3,
        min_rate=100,
    )
    # A prompt client of a route that reads late (after a queue, say) is not timed out.
    assert asyncio.run(_drive(guard, [b"x" * 10] * 3, gap_s=0.0, late_s=0.5)) == 200
    # A trickle (10 B/s, under the 100 B/s minimum) is cut once 0.3 s plus its bytes' worth are used up.
    assert asyncio.run(_drive(guard, [b"x"] * 50, gap_s=0.1, late_s=0.0)) == 408
    # A pause longer than read_timeout_s is cut however fast the rest is.
    assert asyncio.run(_drive(guard, [b"x" * 100, b"x"], gap_s=0.5, late_s=0.0)) == 408
