"""Zero-shot comparison and posted-set search rank what a user expects, with the tiny model."""

from __future__ import annotations

import base64

import numpy as np
from fastapi.testclient import TestClient

from pixembed.api.state import state_of

CAPTIONS = ["a red circle", "a blue square", "a green triangle", "a yellow star"]


def test_compare_puts_the_right_caption_first(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    for caption, images in shape_images.items():
        body = {
            "subject": base64.b64encode(images[0]).decode(),
            "subject_type": "image",
            "prompts": CAPTIONS,
            "prompt_type": "text",
        }
        response = client.post("/v1/compare", json=body)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["ranking"][0]["prompt"] == caption
        assert abs(sum(result["probabilities"]) - 1) < 1e-5
        assert result["similarities"][CAPTIONS.index(caption)] == max(result["similarities"])


def test_compare_multipart_with_repeated_prompts(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    files = {"image": ("star.png", shape_images["a yellow star"][0], "image/png")}
    response = client.post("/v1/compare", files=files, data={"prompts": CAPTIONS})
    assert response.status_code == 200, response.text
    assert response.json()["ranking"][0]["prompt"] == "a yellow star"


def test_compare_text_subject_against_image_prompts(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    prompts = [base64.b64encode(shape_images[c][0]).decode() for c in CAPTIONS]
    body = {"subject": "a green triangle", "subject_type": "text", "prompts": prompts, "prompt_type": "image"}
    result = client.post("/v1/compare", json=body).json()
    assert int(np.argmax(result["similarities"])) == CAPTIONS.index("a green triangle")


def test_text_query_ranks_red_circles_first(client: TestClient, shape_images: dict[str, list[bytes]]) -> None:
    files = []
    for caption, images in shape_images.items():
        for i, png in enumerate(images):
            files.append(("dataset", (f"{caption.replace(' ', '_')}_{i}.png", png, "image/png")))
    response = client.post("/v1/embed/search", files=files, data={"query_text": "a red circle", "top_k": "3"})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 3
    assert all(hit["filename"].startswith("a_red_circle") for hit in results)
    similarities = [hit["similarity"] for hit in results]
    assert similarities == sorted(similarities, reverse=True)


def test_image_query_finds_its_own_copy_first(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    """The mSightFlow request, unchanged: a query file, dataset files and a top_k field."""
    query = shape_images["a blue square"][2]
    files = [("query", ("q.png", query, "image/png"))]
    for caption, images in shape_images.items():
        files += [("dataset", (f"{caption}-{i}.png", png, "image/png")) for i, png in enumerate(images)]
    response = client.post("/v1/embed/search", files=files, data={"top_k": "5"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["filename"] == "a blue square-2.png"
    assert results[0]["similarity"] > 0.999
    assert {hit["filename"][:13] for hit in results[:3]} == {"a blue square"}


def test_search_json_with_skipped_items(client: TestClient, shape_images: dict[str, list[bytes]]) -> None:
    dataset = [base64.b64encode(png).decode() for png in shape_images["a red circle"]]
    dataset.append(base64.b64encode(b"GIF89a broken").decode())
    body = {"query_text": "a red circle", "dataset": dataset, "top_k": 10}
    response = client.post("/v1/embed/search", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["searched"] == 3
    assert len(result["results"]) == 3
    assert result["skipped"][0]["index"] == 3
    assert result["skipped"][0]["error"]["status"] == 422


def test_dataset_over_the_limit_is_refused(client: TestClient, shape_images: dict[str, list[bytes]]) -> None:
    state_of(client.app).settings.max_dataset_items = 3
    png = shape_images["a red circle"][0]
    files = [("dataset", (f"{i}.png", png, "image/png")) for i in range(5)]
    response = client.post("/v1/embed/search", files=files, data={"query_text": "a red circle"})
    assert response.status_code == 400
    assert response.json()["error"] == "too_many_items"
    assert "at most 3" in response.json()["message"]
