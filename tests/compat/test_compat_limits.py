"""Limits and readiness keep each service's error shape: 413 for oversized bodies, 503 while loading."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.factories import MakeClient

# One request per service, and the key its error body must carry.
REQUESTS = [
    ("/api/ai/embeddings", {"image": "x"}, "error"),
    ("/clip/embed_text", {"text": "x"}, "message"),
    ("/openapi/v2/model/image-embedding", {"image": "x", "boundingBoxes": [[0, 0, 1, 1]]}, "success"),
    ("/api/predict/nlp/p/e", {"inputs": ["x"]}, "status_code"),
]


def streamed_json(size: int) -> Iterator[bytes]:
    """A JSON body sent chunked, without a Content-Length, so only the streaming cap can stop it."""
    yield b'{"image": "'
    for _ in range(size // 1000):
        yield b"A" * 1000
    yield b'"}'


@pytest.mark.parametrize(("path", "body", "key"), REQUESTS)
def test_while_the_model_loads_every_service_answers_503_in_its_shape(
    make_client: MakeClient, path: str, body: dict[str, object], key: str
) -> None:
    # No lifespan runs, so the app stays without a model, as while it loads.
    response = make_client(model=None, lifespan=False).post(path, json=body)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert key in response.json()


@pytest.mark.parametrize(("path", "body", "key"), REQUESTS)
def test_a_streamed_body_over_the_cap_is_a_413_in_the_service_shape(
    make_client: MakeClient, path: str, body: dict[str, object], key: str
) -> None:
    client = make_client(max_request_mb=0.01)
    response = client.post(path, content=streamed_json(50_000), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert key in response.json()


def test_an_upload_over_the_file_cap_is_a_sambastudio_413(make_client: MakeClient) -> None:
    client = make_client(max_upload_mb=0.005)
    response = client.post("/api/predict/file/p/e", files={"predict_file": ("a.png", b"x" * 8000)})
    assert response.status_code == 413
    assert response.json()["status_code"] == 413
    assert "PIXEMBED_MAX_UPLOAD_MB" in response.json()["error"]
