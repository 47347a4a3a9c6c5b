"""One decoder for JSON and multipart (api/inputs.py): the same request gives the same answer either way, the
same rule gives the same 4xx, and /openapi.json documents both bodies from the one model."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import MakeClient

CAPTIONS = ["a red circle", "a blue square", "a green triangle", "a yellow star"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _dataset(shape_images: dict[str, list[bytes]]) -> list[bytes]:
    return [png for images in shape_images.values() for png in images[:2]]


def _ranking(body: dict[str, Any]) -> list[tuple[int, float]]:
    return [(hit["index"], round(hit["similarity"], 5)) for hit in body["results"]]


def test_posted_search_answers_the_same_as_json_and_as_multipart(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    dataset = _dataset(shape_images)
    as_json = client.post(
        "/v1/embed/search",
        json={"query_text": "a red circle", "dataset": [_b64(p) for p in dataset], "top_k": 3},
    )
    files = [("dataset", (f"{i}.png", png, "image/png")) for i, png in enumerate(dataset)]
    as_form = client.post("/v1/embed/search", files=files, data={"query_text": "a red circle", "top_k": "3"})
    assert as_json.status_code == as_form.status_code == 200, (as_json.text, as_form.text)
    assert _ranking(as_json.json()) == _ranking(as_form.json())
    assert len(_ranking(as_form.json())) == 3


def test_compare_answers_the_same_as_json_and_as_multipart(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    star = shape_images["a yellow star"][0]
    as_json = client.post("/v1/compare", json={"subject": _b64(star), "prompts": CAPTIONS}).json()
    as_form = client.post(
        "/v1/compare", files={"image": ("star.png", star, "image/png")}, data={"prompts": CAPTIONS}
    ).json()
    assert as_json["similarities"] == pytest.approx(as_form["similarities"], abs=1e-6)
    assert as_form["ranking"][0]["prompt"] == "a yellow star"


def test_dedup_options_read_the_same_from_a_form(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    images = _dataset(shape_images)[:4]
    options = {"method": "phash", "keep": "size", "hash_threshold": 12}
    as_json = client.post("/v1/dedup", json={**options, "images": [_b64(p) for p in images]}).json()
    as_form = client.post(
        "/v1/dedup",
        files=[("images", (f"{i}.png", p, "image/png")) for i, p in enumerate(images)],
        data={k: str(v) for k, v in options.items()},
    ).json()
    for key in ("method", "hash_threshold", "pairs", "groups", "drop"):
        assert as_json[key] == as_form[key], key


def _same_4xx(json_answer: Any, form_answer: Any, status: int, needle: str) -> None:
    assert json_answer.status_code == form_answer.status_code == status, (json_answer.text, form_answer.text)
    assert json_answer.json() == form_answer.json()
    assert needle in json_answer.json()["message"]


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("box", [1, 2], "four integers"),
        ("box", [1, 2, 3, "4"], "four integers"),
        ("box", [0, 0, 9.5, 9], "four integers"),
        ("top_k", 0, "top_k must be between 1 and 1000, got 0"),
        ("top_k", 1001, "top_k must be between 1 and 1000, got 1001"),
    ],
)
def test_a_bad_collection_search_is_the_same_400_as_json_and_as_multipart(
    client: TestClient,
    shapes_collection: str,
    shape_images: dict[str, list[bytes]],
    field: str,
    value: Any,
    needle: str,
) -> None:
    png = shape_images["a red circle"][0]
    as_json = client.post(
        f"/v1/collections/{shapes_collection}/search", json={"image": _b64(png), field: value}
    )
    text = json.dumps(value) if isinstance(value, list) else str(value)
    as_form = client.post(
        f"/v1/collections/{shapes_collection}/search",
        files={"image": ("q.png", png, "image/png")},
        data={field: text},
    )
    _same_4xx(as_json, as_form, 400, needle)


@pytest.mark.parametrize(
    ("route", "fields", "needle"),
    [
        ("/v1/dedup", {"method": "md5"}, "unknown dedup method 'md5'"),
        ("/v1/dedup", {"keep": "newest"}, "unknown keep rule 'newest'"),
        ("/v1/cluster", {"method": "dbscan"}, "unknown cluster method 'dbscan'"),
        ("/v1/detect", {"top_k": 51, "classes": ["a cat"]}, "top_k must be between 1 and 50, got 51"),
    ],
)
def test_method_and_range_rules_are_the_same_400_either_way(
    client: TestClient, shape_images: dict[str, list[bytes]], route: str, fields: dict[str, Any], needle: str
) -> None:
    png = shape_images["a red circle"][0]
    image_field = "image" if route == "/v1/detect" else "images"
    image_json = _b64(png) if route == "/v1/detect" else [_b64(png)]
    as_json = client.post(route, json={image_field: image_json, **fields})
    as_form = client.post(route, files=[(image_field, ("a.png", png, "image/png"))], data=fields)
    _same_4xx(as_json, as_form, 400, needle)


def test_a_file_sent_for_a_text_field_is_a_400_that_names_it(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    png = shape_images["a red circle"][0]
    files = [("dataset", ("a.png", png, "image/png")), ("query_text", ("q.png", png, "image/png"))]
    response = client.post("/v1/embed/search", files=files)
    assert response.status_code == 400
    assert response.json()["message"] == "form field 'query_text' must be text, not a file"


@pytest.mark.parametrize(
    ("route", "field", "message"),
    [
        ("/v1/embed/search", "dataset", "too many dataset images; one search takes at most 2"),
        ("/v1/dedup", "images", "too many images; one request takes at most 2"),
    ],
)
def test_too_many_files_is_a_typed_error_in_the_routes_words(
    make_client: MakeClient, route: str, field: str, message: str
) -> None:
    client = make_client(max_dataset_items=2)
    files = [(field, (f"{i}.png", b"x", "image/png")) for i in range(5)]
    response = client.post(route, files=files, data={"query_text": "x"} if field == "dataset" else {})
    assert response.status_code == 400
    assert response.json() == {"error": "too_many_items", "message": message, "status": 400}


DECODED_ROUTES = {
    "/v1/embed": {"image", "images"},
    "/v1/embed/search": {"query", "query_url", "query_text", "dataset", "dataset_url", "top_k"},
    "/v1/compare": {"subject", "image", "subject_text", "subject_type", "prompts", "labels", "prompt_images"},
    "/v1/collections/{name}/items": {"items", "image", "id", "metadata", "model", "regions"},
    "/v1/collections/{name}/search": {"text", "image", "vector", "id", "box", "top_k", "filter"},
    "/v1/detect": {"image", "classes", "top_k", "threshold", "return_image"},
    "/v1/embed/regions": {"image", "boxes", "label_set", "labels", "texts", "top_k"},
    "/v1/dedup": {"images", "method", "keep", "hash_threshold", "similarity_threshold", "background"},
    "/v1/cluster": {"images", "method", "k", "threshold", "labels", "known_labels"},
    "/v1/collections/{name}/duplicates/check": {"image", "similarity_threshold", "hash_threshold"},
}


def test_openapi_documents_every_decoded_body_as_json_and_as_a_form_of_the_models_fields(
    client: TestClient,
) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, fields in DECODED_ROUTES.items():
        content = paths[path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "multipart/form-data"}, path
        form = content["multipart/form-data"]["schema"]["properties"]
        assert fields <= set(form), (path, fields - set(form))
    search = paths["/v1/embed/search"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert search["properties"]["dataset"] == {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
    }
    assert search["properties"]["top_k"]["maximum"] == 10_000
    assert search["required"] == ["dataset"]
    dedup = paths["/v1/dedup"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "semantic" in dedup["properties"]["method"]["enum"]
    samba = paths["/api/predict/file/{project}/{endpoint}"]["post"]["requestBody"]["content"]
    assert set(samba) == {"multipart/form-data"}
    assert "predict_file" in samba["multipart/form-data"]["schema"]["properties"]
