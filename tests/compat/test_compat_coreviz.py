"""CoreViz's documented requests (curl, Python, JavaScript) against pixembed's /api/ai/embeddings."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import requests
from fastapi.testclient import TestClient

from pixembed.runtime.model import ClipModel
from tests.compat.conftest import KEY
from tests.factories import MakeClient

JSON_KEY = {"Content-Type": "application/json", "x-api-key": KEY}


def native_vector(client: TestClient, data: bytes) -> np.ndarray:
    response = client.post("/v1/embed", files={"image": data}, headers={"Authorization": f"Bearer {KEY}"})
    return np.array(response.json()["vector"])


def test_curl_example_answers_embedding_dimensions_and_model(
    keyed_client: TestClient, image_server: str, tiny_dimensions: int
) -> None:
    response = keyed_client.post(
        "/api/ai/embeddings", headers=JSON_KEY, content=f'{{"image": "{image_server}/outfit.jpg"}}'
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"embedding", "dimensions", "model"}
    assert body["model"] == "default"
    assert body["dimensions"] == len(body["embedding"]) == tiny_dimensions
    assert np.linalg.norm(body["embedding"]) == pytest.approx(1.0, abs=1e-4)
    fetched = requests.get(f"{image_server}/outfit.jpg", timeout=5).content
    assert np.allclose(body["embedding"], native_vector(keyed_client, fetched), atol=1e-5)


def test_python_snippet_through_a_real_server(live_server: str, image_server: str) -> None:
    response = requests.post(
        f"{live_server}/api/ai/embeddings",
        headers={"Content-Type": "application/json", "x-api-key": KEY},
        json={"image": f"{image_server}/outfit.png"},
        timeout=30,
    )
    data = response.json()
    embedding = np.array(data["embedding"])
    assert embedding.shape == (data["dimensions"],)


@pytest.mark.parametrize("name", ["outfit.jpg", "outfit.png", "outfit.webp", "outfit.gif"])
def test_documented_formats_embed_alike(keyed_client: TestClient, image_server: str, name: str) -> None:
    body = {"image": f"{image_server}/{name}", "model": "default"}
    png = keyed_client.post(
        "/api/ai/embeddings", headers=JSON_KEY, json={"image": f"{image_server}/outfit.png"}
    )
    other = keyed_client.post("/api/ai/embeddings", headers=JSON_KEY, json=body)
    assert other.status_code == 200, other.text
    assert float(np.dot(png.json()["embedding"], other.json()["embedding"])) > 0.97


def test_data_uri_and_served_model_name_are_accepted(
    keyed_client: TestClient, shape_images: dict[str, list[bytes]], tiny_model: ClipModel
) -> None:
    png = shape_images["a red circle"][0]
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    body = {"image": uri, "model": tiny_model.info.name}
    response = keyed_client.post("/api/ai/embeddings", headers=JSON_KEY, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == tiny_model.info.name
    assert np.allclose(response.json()["embedding"], native_vector(keyed_client, png), atol=1e-5)


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "nope"}, {"Authorization": f"Bearer {KEY}"}])
def test_missing_or_wrong_key_is_a_coreviz_401(
    keyed_client: TestClient, image_server: str, headers: dict[str, str]
) -> None:
    response = keyed_client.post("/api/ai/embeddings", headers=headers, json={"image": f"{image_server}/x"})
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert "API key" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ('{"model": "default"}', 400, "Bad Request"),
        ('{"image": ""}', 400, "Bad Request"),
        ('{"image": "https://exa', 400, "Bad Request"),
        ('{"image": "ftp://example.com/a.jpg"}', 400, "Bad Request"),
        ('{"image": "{server}/a.jpg", "model": "vit-h-14"}', 400, "Bad Request"),
        ('{"image": "{server}/missing.jpg"}', 422, "Unprocessable Entity"),
        ('{"image": "{server}/notes.txt"}', 422, "Unprocessable Entity"),
        ('{"image": "bm90IGFuIGltYWdl"}', 422, "Unprocessable Entity"),
    ],
)
def test_bad_input_answers_the_documented_error_shape(
    keyed_client: TestClient, image_server: str, body: str, status: int, error: str
) -> None:
    content = body.replace("{server}", image_server)
    response = keyed_client.post("/api/ai/embeddings", headers=JSON_KEY, content=content)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "message"}
    assert response.json()["error"] == error


def test_private_urls_are_refused_unless_allowed(make_client: MakeClient, image_server: str) -> None:
    client = make_client()
    response = client.post("/api/ai/embeddings", json={"image": f"{image_server}/outfit.png"})
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"
    assert "private" in response.json()["message"] or "loopback" in response.json()["message"]


@pytest.mark.parametrize(
    ("image", "status", "documented", "detail"),
    [
        ("example.com/input.jpg", 400, "Invalid image URL or missing required fields", "https://"),
        ("a photo of a dog", 400, "Invalid image URL or missing required fields", "https://"),
        (None, 400, "Invalid image URL or missing required fields", "image"),
        ("abcd", 422, "Unable to process the provided image", "not a supported image"),
        ("{server}/notes.txt", 422, "Unable to process the provided image", "not a supported image"),
        ("{server}/missing.jpg", 422, "Unable to process the provided image", "404"),
        ("data:image/png;base64,@@@@", 400, "Invalid image URL or missing required fields", "base64"),
    ],
)
def test_image_strings_map_to_the_documented_status_and_message(
    keyed_client: TestClient, image_server: str, image: str | None, status: int, documented: str, detail: str
) -> None:
    body = {} if image is None else {"image": image.replace("{server}", image_server)}
    response = keyed_client.post("/api/ai/embeddings", headers=JSON_KEY, json=body)
    assert response.status_code == status, response.text
    message = response.json()["message"]
    assert message.startswith(documented + ": ") and detail in message, message
    # Base64 is named only for text that could be nothing else ("abcd" and the data URI).
    if image is None or not (image == "abcd" or image.startswith("data:")):
        assert "base64" not in message, message


def test_allowing_private_urls_still_refuses_cloud_metadata(make_client: MakeClient) -> None:
    client = make_client(allow_private_urls=True)
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    response = client.post("/api/ai/embeddings", json={"image": metadata})
    assert response.status_code == 400
    assert "cloud metadata" in response.json()["message"]


def test_the_readme_documents_allowing_private_urls_with_its_risk() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    paragraph = next(p for p in readme.split("\n\n") if p.startswith("`PIXEMBED_ALLOW_PRIVATE_URLS"))
    for needed in ("tests", "private network", "SSRF", "internal service", "169.254.169.254", "stay refused"):
        assert needed in paragraph, needed
