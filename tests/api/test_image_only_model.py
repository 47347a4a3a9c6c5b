"""An image-only model (the offline photo model, EfficientNet-Lite0) through the real app.

Images embed, search and fill collections as with CLIP; every route that needs text answers 400 with the
``no_text_tower`` error, one check in the service layer.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pixembed.api import create_app
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel

NO_TEXT = "model efficientnet-lite0 has no text tower; use a CLIP model for text"


@pytest.fixture
def photo_client(photo_model: ClipModel, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(model="efficientnet-lite0", data_dir=tmp_path / "data")
    with TestClient(create_app(settings, photo_model)) as test_client:
        yield test_client


def _assert_no_text_tower(response: object) -> None:
    assert response.status_code == 400, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"] == "no_text_tower"
    assert body["message"] == NO_TEXT


def test_models_lists_it_with_1280_dimensions_and_no_text_tower(photo_client: TestClient) -> None:
    body = photo_client.get("/v1/models").json()
    assert body["loaded"]["model"] == "efficientnet-lite0"
    assert body["loaded"]["dimensions"] == 1280
    assert body["loaded"]["text_tower"] is False
    assert body["loaded"]["runtime"] == "onnx"
    entry = next(e for e in body["data"] if e["id"] == "efficientnet-lite0")
    assert entry["text_tower"] is False
    assert entry["loaded"] is True
    assert "offline photo model" in entry["description"]


def test_image_embed_gives_1280_d_unit_vectors(photo_client: TestClient, photos: dict[str, bytes]) -> None:
    files = [("image", (f"{name}.jpg", jpeg, "image/jpeg")) for name, jpeg in photos.items()]
    response = photo_client.post("/v1/embed", files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model"], body["dimensions"]) == ("efficientnet-lite0", 1280)
    vectors = np.array([item["embedding"] for item in body["data"]])
    assert vectors.shape == (4, 1280)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # The copy of the cat is nearest the cat.
    names = list(photos)
    nearest = np.argsort(-(vectors[:3] @ vectors[names.index("chelsea-copy")]))
    assert names[int(nearest[0])] == "chelsea"


def test_text_embed_is_a_400_naming_the_model(photo_client: TestClient) -> None:
    _assert_no_text_tower(photo_client.post("/v1/embed/text", json={"text": "a cat"}))


def test_compare_with_text_prompts_is_a_400_and_with_images_works(
    photo_client: TestClient, photos: dict[str, bytes]
) -> None:
    subject = base64.b64encode(photos["chelsea-copy"]).decode()
    with_text = {
        "subject": subject,
        "subject_type": "image",
        "prompts": ["a cat", "a cup"],
        "prompt_type": "text",
    }
    _assert_no_text_tower(photo_client.post("/v1/compare", json=with_text))
    text_subject = {"subject": "a cat", "subject_type": "text", "prompts": [subject], "prompt_type": "image"}
    _assert_no_text_tower(photo_client.post("/v1/compare", json=text_subject))
    prompts = [base64.b64encode(photos[n]).decode() for n in ("coffee", "chelsea", "rocket")]
    with_images = {"subject": subject, "subject_type": "image", "prompts": prompts, "prompt_type": "image"}
    response = photo_client.post("/v1/compare", json=with_images)
    assert response.status_code == 200, response.text
    assert int(np.argmax(response.json()["similarities"])) == 1


def test_a_collection_made_on_it_searches_by_image_not_by_text(
    photo_client: TestClient, photos: dict[str, bytes]
) -> None:
    created = photo_client.post("/v1/collections", json={"name": "photos"})
    assert created.status_code == 201, created.text
    assert (created.json()["model"], created.json()["dimensions"]) == ("efficientnet-lite0", 1280)
    stored = ("chelsea", "coffee", "rocket")
    files = [("image", (f"{n}.jpg", photos[n], "image/jpeg")) for n in stored]
    added = photo_client.post(
        "/v1/collections/photos/items",
        files=files,
        data={"id": list(stored), "metadata": [json.dumps({"name": n}) for n in stored]},
    )
    assert added.status_code == 200, added.text
    query = base64.b64encode(photos["chelsea-copy"]).decode()
    found = photo_client.post("/v1/collections/photos/search", json={"image": query, "top_k": 3})
    assert found.status_code == 200, found.text
    assert found.json()["results"][0]["id"] == "chelsea"
    _assert_no_text_tower(photo_client.post("/v1/collections/photos/search", json={"text": "a cat"}))


def test_a_server_started_with_the_name_serves_it_from_the_export_cache(
    photo_model: ClipModel, photo_model_data_dir: Path
) -> None:
    """What ``pixembed serve --model efficientnet-lite0`` does: load by name, here from the ONNX export
    the session already made (no torch needed the second time)."""
    settings = Settings(model="efficientnet-lite0", data_dir=photo_model_data_dir)
    with TestClient(create_app(settings)) as started:
        assert started.get("/readyz").status_code == 200
        loaded = started.get("/v1/models").json()["loaded"]
    assert (loaded["model"], loaded["dimensions"], loaded["text_tower"]) == (
        "efficientnet-lite0",
        1280,
        False,
    )


def test_dedup_groups_the_copy_and_labelled_clusters_are_a_400(
    photo_client: TestClient, photos: dict[str, bytes]
) -> None:
    names = ["chelsea", "coffee", "chelsea-copy", "rocket"]
    images = [base64.b64encode(photos[n]).decode() for n in names]
    # The default semantic threshold (0.95) is CLIP's; EfficientNet's copies sit at 0.9-0.95 and unrelated
    # photographs near 0.1 (docs/photo-model.md), so this model's dedup is asked with its own threshold.
    body = {"images": images, "method": "semantic", "similarity_threshold": 0.85}
    response = photo_client.post("/v1/dedup", json=body)
    assert response.status_code == 200, response.text
    groups = [sorted(g["members"], key=int) for g in response.json()["groups"]]
    assert groups == [["0", "2"]]
    clusters = photo_client.post("/v1/cluster", json={"images": images, "k": 2})
    assert clusters.status_code == 200, clusters.text
    _assert_no_text_tower(
        photo_client.post("/v1/cluster", json={"images": images, "k": 2, "labels": ["a cat", "a cup"]})
    )
