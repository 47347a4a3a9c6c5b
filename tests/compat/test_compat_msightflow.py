"""mSightFlow's documented snippets, replayed against pixembed's native /v1/embed and /v1/embed/search."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
import requests
from fastapi.testclient import TestClient
from PIL import Image

from tests.compat.conftest import KEY
from tests.helpers import encode

AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def dataset(tmp_path: Path, shape_images: dict[str, list[bytes]]) -> Path:
    """A dataset/ folder of JPEGs and a query.jpg that is a byte copy of one of them, as in the snippets."""
    folder = tmp_path / "dataset"
    folder.mkdir()
    for caption, images in shape_images.items():
        for i, png in enumerate(images):
            jpeg = encode(Image.open(io.BytesIO(png)), "JPEG", quality=90)
            (folder / f"{caption.replace(' ', '_')}_{i}.jpg").write_bytes(jpeg)
    (tmp_path / "query.jpg").write_bytes((folder / "a_blue_square_1.jpg").read_bytes())
    return folder


def test_python_embed_snippet_builds_an_index_that_finds_the_copy(live_server: str, dataset: Path) -> None:
    def embed(path: Path) -> np.ndarray:
        r = requests.post(f"{live_server}/v1/embed", headers=AUTH, files={"image": path.read_bytes()}).json()
        return np.array(r["vector"], dtype=np.float32)

    vectors = {p.name: embed(p) for p in dataset.glob("*.jpg")}
    query = embed(dataset.parent / "query.jpg")
    scores = {name: float(query @ v) for name, v in vectors.items()}
    best = sorted(scores.items(), key=lambda kv: -kv[1])[:5]
    assert best[0][0] == "a_blue_square_1.jpg"
    assert best[0][1] == pytest.approx(1.0, abs=1e-4)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-4 for v in vectors.values())


def test_python_hosted_search_snippet(live_server: str, dataset: Path) -> None:
    files = [("query", open(dataset.parent / "query.jpg", "rb"))]  # noqa: SIM115 - the snippet's own shape
    for p in sorted(dataset.glob("*.jpg")):
        files.append(("dataset", open(p, "rb")))  # noqa: SIM115
    try:
        resp = requests.post(f"{live_server}/v1/embed/search", headers=AUTH, files=files, data={"top_k": "5"})
    finally:
        for _, handle in files:
            handle.close()
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert len(results) == 5
    assert results[0]["filename"] == "a_blue_square_1.jpg"
    assert results[0]["similarity"] == pytest.approx(1.0, abs=1e-4)
    similarities = [hit["similarity"] for hit in results]
    assert similarities == sorted(similarities, reverse=True)


def test_node_and_curl_embed_shapes(live_server: str, tiny_dimensions: int, dataset: Path) -> None:
    # form-data's createReadStream and curl's -F image=@query.jpg both send a filename and a content type.
    query = (dataset.parent / "query.jpg").read_bytes()
    response = httpx.post(
        f"{live_server}/v1/embed", headers=AUTH, files={"image": ("query.jpg", query, "image/jpeg")}
    )
    assert response.status_code == 200, response.text
    vector = response.json()["vector"]
    assert len(vector) == tiny_dimensions
    assert np.sqrt(sum(v * v for v in vector)) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("path", ["/v1/embed", "/v1/embed/search"])
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}]
)
def test_native_routes_want_the_bearer_key_when_keys_are_set(
    keyed_client: TestClient, path: str, headers: dict[str, str]
) -> None:
    response = keyed_client.post(path, headers=headers, files={"image": b"x"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_other_native_routes_take_the_same_key_and_auth_off_needs_no_key(
    client: TestClient, keyed_client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    png = shape_images["a red circle"][0]
    assert client.post("/v1/embed", files={"image": png}).status_code == 200
    form = {"files": {"image": png}, "data": {"prompts": ["a red circle"]}}
    assert keyed_client.post("/v1/compare", **form).status_code == 401  # type: ignore[arg-type]
    compare = keyed_client.post("/v1/compare", headers=AUTH, **form)  # type: ignore[arg-type]
    assert compare.status_code == 200
    assert keyed_client.get("/healthz").status_code == 200
