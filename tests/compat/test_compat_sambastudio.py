"""SambaStudio's CLIP curl commands (image as predict_file, text as inputs) against pixembed."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.compat.conftest import KEY

FILE = "/api/predict/file/my-project/my-endpoint"
NLP = "/api/predict/nlp/my-project/my-endpoint"
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_image_curl_command_through_a_real_server(
    live_server: str, shape_images: dict[str, list[bytes]], tiny_dimensions: int
) -> None:
    png = shape_images["a yellow star"][0]
    response = httpx.post(
        f"{live_server}{FILE}", headers={"key": KEY}, files={"predict_file": ("star.jpg", png, "image/jpeg")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status_code"] == 200
    [vector] = body["data"]
    assert len(vector) == tiny_dimensions
    native = httpx.post(f"{live_server}/v1/embed", headers=AUTH, files={"image": png}).json()["vector"]
    assert np.allclose(vector, native, atol=1e-5)


def test_text_curl_command(keyed_client: TestClient, tiny_dimensions: int) -> None:
    response = keyed_client.post(
        NLP,
        headers={"key": KEY, "Content-Type": "application/json"},
        content='{"inputs":["Today is a nice day."]}',
    )
    assert response.status_code == 200, response.text
    [vector] = response.json()["data"]
    assert len(vector) == tiny_dimensions
    native = keyed_client.post("/v1/embed/text", headers=AUTH, json={"text": "Today is a nice day."})
    assert np.allclose(vector, native.json()["vector"], atol=1e-5)
    two = keyed_client.post(NLP, headers={"key": KEY}, json={"inputs": ["a", "b"]}).json()["data"]
    assert len(two) == 2


@pytest.mark.parametrize("headers", [{}, {"key": "wrong"}, {"Authorization": f"Bearer {KEY}"}])
@pytest.mark.parametrize("path", [FILE, NLP])
def test_missing_or_wrong_key_header_is_a_401(
    keyed_client: TestClient, path: str, headers: dict[str, str]
) -> None:
    response = keyed_client.post(path, headers=headers, json={"inputs": ["x"]})
    assert response.status_code == 401
    assert response.json()["status_code"] == 401
    assert "API key" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "needle"),
    [
        (FILE, {"json": {"inputs": ["x"]}}, 400, "multipart"),
        (FILE, {"files": {"other": ("a.png", b"x")}}, 400, "predict_file"),
        (FILE, {"files": {"predict_file": ("a.txt", b"just text")}}, 415, "image"),
        (NLP, {"json": {"inputs": []}}, 400, "no text"),
        (NLP, {"json": {"input": ["x"]}}, 400, "inputs"),
        (NLP, {"content": b"inputs=x", "headers": {"Content-Type": "text/plain"}}, 400, "JSON"),
    ],
)
def test_bad_input_is_a_4xx_in_the_same_shape(
    keyed_client: TestClient, path: str, kwargs: dict[str, object], status: int, needle: str
) -> None:
    headers = {"key": KEY, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    response = keyed_client.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert set(response.json()) == {"status_code", "error"}
    assert response.json()["status_code"] == status
    assert needle in response.json()["error"]
