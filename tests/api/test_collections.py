"""/v1/collections through the real app: create, add, get, delete, search by text, image, vector and id."""

from __future__ import annotations

import base64
import sys
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pixembed.api.state import state_of
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from tests.factories import MakeApp, MakeClient


def test_lifecycle_and_model_info(client: TestClient) -> None:
    created = client.post("/v1/collections", json={"name": "shoes"})
    assert created.status_code == 201
    assert created.json() == {
        "name": "shoes",
        "model": "pixembed-tiny",
        "dimensions": created.json()["dimensions"],
        "count": 0,
    }
    assert client.post("/v1/collections", json={"name": "shoes"}).status_code == 409
    assert [c["name"] for c in client.get("/v1/collections").json()["data"]] == ["shoes"]
    assert client.get("/v1/collections/shoes").json()["count"] == 0
    assert client.delete("/v1/collections/shoes").status_code == 204
    missing = client.get("/v1/collections/shoes")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert client.post("/v1/collections", json={"name": "../../etc"}).status_code == 400
    for sneaky in ("abc\n", "abc\r\n", "a" * 64 + "\n"):  # "$" alone would let a trailing newline through
        refused = client.post("/v1/collections", json={"name": sneaky})
        assert refused.status_code == 400 and "invalid collection name" in refused.json()["message"]
    # A model this server does not serve: 400 naming those it does (it serves only the tiny model here).
    other = client.post("/v1/collections", json={"name": "x", "model": "ViT-B-32/openai"})
    assert other.status_code == 400
    assert other.json()["error"] == "unknown_model"
    assert other.json()["message"] == "model 'ViT-B-32/openai' is not served here; available: pixembed-tiny"


def test_text_search_finds_the_right_shapes_with_metadata(client: TestClient, shapes_collection: str) -> None:
    response = client.post("/v1/collections/shapes/search", json={"text": "a yellow star", "top_k": 3})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["metadata"]["caption"] for r in results] == ["a yellow star"] * 3
    filtered = client.post(
        "/v1/collections/shapes/search",
        json={"text": "a yellow star", "top_k": 2, "filter": {"caption": "a red circle", "n": {"gte": 1}}},
    ).json()["results"]
    assert [r["id"] for r in filtered] in (
        ["a-red-circle-1", "a-red-circle-2"],
        ["a-red-circle-2", "a-red-circle-1"],
    )


def test_image_vector_and_more_like_this(
    client: TestClient, shape_images: dict[str, list[bytes]], shapes_collection: str
) -> None:
    png = shape_images["a blue square"][1]
    by_image = client.post(
        "/v1/collections/shapes/search", files={"image": ("q.png", png)}, data={"top_k": "1"}
    )
    assert by_image.json()["results"][0]["id"] == "a-blue-square-1"
    assert by_image.json()["results"][0]["score"] > 0.999
    stored = client.get(
        "/v1/collections/shapes/items/a-blue-square-1", params={"include_vector": True}
    ).json()
    by_vector = client.post("/v1/collections/shapes/search", json={"vector": stored["vector"], "top_k": 1})
    assert by_vector.json()["results"][0]["id"] == "a-blue-square-1"
    like = client.post("/v1/collections/shapes/search", json={"id": "a-blue-square-1", "top_k": 2}).json()
    assert "a-blue-square-1" not in [r["id"] for r in like["results"]]
    assert all(r["metadata"]["caption"] == "a blue square" for r in like["results"])


def test_upsert_by_id_vectors_and_deletes(client: TestClient, shape_images: dict[str, list[bytes]]) -> None:
    client.post("/v1/collections", json={"name": "v"})
    dims = client.get("/v1/collections/v").json()["dimensions"]
    vector = np.ones(dims).tolist()
    body = {
        "items": [
            {"id": "a", "vector": vector, "metadata": {"k": 1}},
            {"id": "b", "image": base64.b64encode(shape_images["a red circle"][0]).decode()},
        ]
    }
    assert client.post("/v1/collections/v/items", json=body).json()["written"] == 2
    body = {"items": [{"id": "a", "vector": vector, "metadata": {"k": 2}}]}
    client.post("/v1/collections/v/items", json=body)
    assert client.get("/v1/collections/v").json()["count"] == 2
    assert client.get("/v1/collections/v/items/a").json()["metadata"] == {"k": 2}
    assert client.delete("/v1/collections/v/items/a").status_code == 204
    assert client.delete("/v1/collections/v/items/a").status_code == 404
    assert client.get("/v1/collections/v/items/a").status_code == 404


def test_wrong_dimension_bad_items_and_filters_are_4xx(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    client.post("/v1/collections", json={"name": "v"})
    wrong = client.post("/v1/collections/v/items", json={"items": [{"vector": [1.0, 2.0]}]})
    assert wrong.status_code == 400
    assert "-d" in wrong.json()["message"]
    mixed = client.post(
        "/v1/collections/v/items",
        files=[("image", ("ok.png", shape_images["a red circle"][0])), ("image", ("bad.png", b"nope"))],
    )
    assert mixed.status_code == 200
    data = mixed.json()["data"]
    assert data[0]["id"] and data[1]["error"]["status"] == 415
    assert (
        client.post("/v1/collections/v/search", json={"text": "x", "filter": {"a": {"near": 1}}}).status_code
        == 400
    )
    assert client.post("/v1/collections/v/search", json={"text": "x", "id": "y"}).status_code == 400
    assert client.post("/v1/collections/v/search", json={"vector": [1.0]}).status_code == 400
    assert client.post("/v1/collections/v/items", json={"items": [{"id": "z"}]}).status_code == 400
    assert client.post("/v1/collections/nope/search", json={"text": "x"}).status_code == 404
    # A model the server does not serve is a 400 (another served model than the collection's: 409,
    # tests/api/test_several_models.py).
    unknown = client.post("/v1/collections/v/items", json={"model": "other", "items": [{"vector": [1.0]}]})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unknown_model")


def test_the_exact_search_size_is_a_setting(
    tiny_model: ClipModel,
    settings: Settings,
    make_app: MakeApp,
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PIXEMBED_EXACT_MAX: collections above it are searched through an inverted file, below it exactly."""
    monkeypatch.setenv("PIXEMBED_EXACT_MAX", "50")
    small = Settings(model=settings.model, data_dir=settings.data_dir)
    assert small.exact_max == 50
    vectors = np.random.default_rng(7).normal(size=(120, tiny_model.info.dimensions))
    with TestClient(make_app(small)) as client:  # stopped before the next server opens the same data
        assert client.post("/v1/collections", json={"name": "c"}).status_code == 201
        items = [{"id": f"v{i}", "vector": v.tolist()} for i, v in enumerate(vectors)]
        assert client.post("/v1/collections/c/items", json={"items": items}).status_code == 200
        assert state_of(client.app).collections.store._indexes["c"].approximate
        for i in (0, 57, 119):
            found = client.post("/v1/collections/c/search", json={"vector": vectors[i].tolist(), "top_k": 1})
            assert found.json()["results"][0]["id"] == f"v{i}"
    client = make_client()  # the default: 200,000
    assert not state_of(client.app).collections.store._indexes["c"].approximate


def test_a_text_search_reads_the_collection_once(
    client: TestClient, shapes_collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once above the store (which may check its own collection inside ``search``): it was three reads."""
    store = state_of(client.app).collections.store
    reads: list[str] = []
    read = store.get_collection

    def counted(name: str) -> Any:
        if not sys._getframe(1).f_globals["__name__"].startswith("pixembed.store"):
            reads.append(name)
        return read(name)

    monkeypatch.setattr(store, "get_collection", counted)
    response = client.post(f"/v1/collections/{shapes_collection}/search", json={"text": "a red circle"})
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["metadata"]["caption"] == "a red circle"
    assert reads == [shapes_collection]


def test_score_threshold_leaves_out_the_weaker_matches(client: TestClient, shapes_collection: str) -> None:
    search = "/v1/collections/shapes/search"
    ranked = client.post(search, json={"text": "a yellow star", "top_k": 6}).json()["results"]
    scores = [r["score"] for r in ranked]
    floor = (scores[2] + scores[3]) / 2  # between the third and the fourth match
    kept = client.post(search, json={"text": "a yellow star", "top_k": 6, "score_threshold": floor})
    assert kept.status_code == 200, kept.text
    assert [r["id"] for r in kept.json()["results"]] == [r["id"] for r in ranked[:3]]
    # The same as a form field, and more-like-this (which leaves out its own item) honours it too.
    fields = {"text": "a yellow star", "top_k": "6", "score_threshold": str(floor)}
    form = client.post(search, files={name: (None, value) for name, value in fields.items()})
    assert [r["id"] for r in form.json()["results"]] == [r["id"] for r in ranked[:3]]
    alike = client.post(search, json={"id": ranked[0]["id"], "top_k": 6, "score_threshold": 0.999999})
    assert ranked[0]["id"] not in [r["id"] for r in alike.json()["results"]]
    assert all(r["score"] >= 0.999999 for r in alike.json()["results"])
    bad = client.post(search, json={"text": "a yellow star", "score_threshold": 1.5})
    assert bad.status_code == 400
    assert "score_threshold" in bad.json()["message"]
