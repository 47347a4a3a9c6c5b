"""Two models in one server: the bundled tiny CLIP (the default, 128-d) and the offline photo model
(EfficientNet-Lite0, image-only, 1280-d), chosen per request on native and compatibility routes.

Both load through the real loader: the tiny model from its bundled ONNX, the photo model from the ONNX export
the session's ``photo_model`` fixture made in ``photo_model_data_dir``.
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

TINY, PHOTO = "pixembed-tiny", "efficientnet-lite0"
AVAILABLE = f"available: {TINY}, {PHOTO}"
MODELS_FILE = """
[[models]]
name = "pixembed-tiny"
aliases = ["clip", "ViT-B-32"]

[[models]]
name = "photo"
model = "efficientnet-lite0"
precision = "fp32"
load = "lazy"

[sambastudio.endpoints]
"shop/clip-endpoint" = "clip"
"shop/photo-endpoint" = "photo"
"""


def _settings(data_dir: Path, tmp_path: Path, **changes: object) -> Settings:
    """Models exported to ``data_dir``'s ONNX cache; collections, keys and jobs in this test's folder."""
    return Settings(
        data_dir=data_dir,
        store=str(tmp_path / "store"),
        key_store=tmp_path / "keys.sqlite",
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture
def two_models(photo_model: ClipModel, photo_model_data_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    """``serve --model pixembed-tiny --model efficientnet-lite0``: both load at start."""
    settings = _settings(photo_model_data_dir, tmp_path, model=TINY, extra_models=[PHOTO])
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def from_file(photo_model: ClipModel, photo_model_data_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    """The same two from a models file: the photo model as "photo", loaded on first use."""
    path = tmp_path / "models.toml"
    path.write_text(MODELS_FILE)
    with TestClient(create_app(_settings(photo_model_data_dir, tmp_path, models_file=path))) as client:
        yield client


def b64(jpeg: bytes) -> str:
    return base64.b64encode(jpeg).decode()


def test_models_lists_each_served_model(two_models: TestClient) -> None:
    served = two_models.get("/v1/models").json()["served"]
    keys = ("name", "default", "loaded", "dimensions", "image_tower", "text_tower", "runtime")
    rows = [tuple(m[key] for key in keys) for m in served]
    assert rows == [
        (TINY, True, True, 128, True, True, "onnx"),
        (PHOTO, False, True, 1280, True, False, "onnx"),
    ]
    assert all(m["precision"] in ("fp32", "int8") and m["memory_mb"] >= 0 for m in served)


def test_embed_picks_the_model_per_request(two_models: TestClient, photos: dict[str, bytes]) -> None:
    image = b64(photos["chelsea"])
    default = two_models.post("/v1/embed", json={"image": image}).json()
    chosen = two_models.post("/v1/embed", json={"image": image, "model": PHOTO}).json()
    assert (default["model"], default["dimensions"], len(default["vector"])) == (TINY, 128, 128)
    assert (chosen["model"], chosen["dimensions"], len(chosen["vector"])) == (PHOTO, 1280, 1280)
    files = {"image": ("cat.jpg", photos["chelsea"], "image/jpeg")}
    form = two_models.post("/v1/embed", files=files, data={"model": PHOTO}).json()
    assert np.allclose(form["vector"], chosen["vector"], atol=1e-5)
    text = two_models.post("/v1/embed/text", json={"text": "a red circle", "model": TINY}).json()
    assert (text["model"], len(text["vector"])) == (TINY, 128)


def test_search_and_compare_pick_the_model(two_models: TestClient, photos: dict[str, bytes]) -> None:
    dataset = [b64(photos[n]) for n in ("coffee", "chelsea", "rocket")]
    body = {"query": b64(photos["chelsea-copy"]), "dataset": dataset, "top_k": 1, "model": PHOTO}
    found = two_models.post("/v1/embed/search", json=body).json()
    assert (found["model"], found["dimensions"], found["results"][0]["index"]) == (PHOTO, 1280, 1)
    compared = two_models.post(
        "/v1/compare",
        json={"subject": dataset[1], "prompts": dataset, "prompt_type": "image", "model": PHOTO},
    ).json()
    assert compared["model"] == PHOTO
    assert int(np.argmax(compared["similarities"])) == 1


def test_text_on_the_image_only_model_is_a_400(two_models: TestClient, photos: dict[str, bytes]) -> None:
    no_text = f"model {PHOTO} has no text tower; use a CLIP model for text"
    for path, body in [
        ("/v1/embed/text", {"text": "a cat", "model": PHOTO}),
        ("/v1/compare", {"subject": b64(photos["chelsea"]), "prompts": ["a cat", "a cup"], "model": PHOTO}),
    ]:
        response = two_models.post(path, json=body)
        assert response.status_code == 400, response.text
        assert (response.json()["error"], response.json()["message"]) == ("no_text_tower", no_text)
    # The same texts on the default model work.
    assert two_models.post("/v1/embed/text", json={"text": "a cat"}).status_code == 200


def test_an_unknown_model_is_a_400_naming_the_served_ones(
    two_models: TestClient, photos: dict[str, bytes]
) -> None:
    image = b64(photos["coffee"])
    requests = [
        ("/v1/embed", {"json": {"image": image, "model": "ViT-H-14"}}),
        ("/v1/embed", {"files": {"image": ("a.jpg", photos["coffee"])}, "data": {"model": "ViT-H-14"}}),
        ("/v1/embed/text", {"json": {"text": "a cup", "model": "ViT-H-14"}}),
        ("/v1/embed/search", {"json": {"query": image, "dataset": [image], "model": "ViT-H-14"}}),
        ("/v1/dedup", {"json": {"images": [image, image], "method": "phash", "model": "ViT-H-14"}}),
        ("/v1/cluster", {"json": {"images": [image, image], "k": 1, "model": "ViT-H-14"}}),
        ("/v1/collections", {"json": {"name": "c", "model": "ViT-H-14"}}),
    ]
    for path, kwargs in requests:
        response = two_models.post(path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 400, (path, response.text)
        assert response.json() == {
            "error": "unknown_model",
            "message": f"model 'ViT-H-14' is not served here; {AVAILABLE}",
            "status": 400,
        }


def test_a_collection_keeps_the_model_it_was_made_with(
    two_models: TestClient, photos: dict[str, bytes]
) -> None:
    created = two_models.post("/v1/collections", json={"name": "photos", "model": PHOTO})
    assert created.status_code == 201, created.text
    assert (created.json()["model"], created.json()["dimensions"]) == (PHOTO, 1280)
    stored = ("chelsea", "coffee", "rocket")
    # Neither the upload nor the search names a model: the collection's own (not the default) embeds them.
    added = two_models.post(
        "/v1/collections/photos/items",
        files=[("image", (f"{n}.jpg", photos[n], "image/jpeg")) for n in stored],
        data={"id": list(stored), "metadata": [json.dumps({"name": n}) for n in stored]},
    )
    assert added.status_code == 200, added.text
    assert (added.json()["model"], added.json()["written"]) == (PHOTO, 3)
    query = {"image": b64(photos["chelsea-copy"]), "top_k": 3}
    found = two_models.post("/v1/collections/photos/search", json=query)
    assert found.status_code == 200, found.text
    assert (found.json()["model"], found.json()["results"][0]["id"]) == (PHOTO, "chelsea")
    # Naming the collection's model (by an id the server knows) is fine; naming the other served one is not.
    assert two_models.post("/v1/collections/photos/search", json={**query, "model": PHOTO}).status_code == 200
    other = two_models.post("/v1/collections/photos/search", json={**query, "model": TINY})
    assert other.status_code == 409
    assert "holds vectors from efficientnet-lite0, not pixembed-tiny" in other.json()["message"]
    text = two_models.post("/v1/collections/photos/search", json={"text": "a cat"})
    assert (text.status_code, text.json()["error"]) == (400, "no_text_tower")
    check = two_models.post(
        "/v1/collections/photos/duplicates/check", json={"image": b64(photos["chelsea-copy"])}
    )
    assert check.status_code == 200, check.text
    # A collection made without a model holds the default's vectors and answers text.
    assert two_models.post("/v1/collections", json={"name": "shapes"}).json()["dimensions"] == 128
    assert two_models.post("/v1/collections/shapes/search", json={"text": "a cat"}).status_code == 200


def test_a_models_file_loads_lazily_and_names_by_alias(
    from_file: TestClient, photos: dict[str, bytes]
) -> None:
    before = {m["name"]: m for m in from_file.get("/v1/models").json()["served"]}
    assert before["pixembed-tiny"]["aliases"] == ["clip", "ViT-B-32"]
    assert (before["photo"]["loaded"], before["photo"]["dimensions"], before["photo"]["load"]) == (
        False,
        None,
        "lazy",
    )
    assert before["photo"]["text_tower"] is False  # known from its name before it loads
    chosen = from_file.post("/v1/embed", json={"image": b64(photos["coffee"]), "model": "photo"})
    assert chosen.status_code == 200, chosen.text
    assert (chosen.json()["model"], chosen.json()["dimensions"]) == (PHOTO, 1280)
    after = {m["name"]: m for m in from_file.get("/v1/models").json()["served"]}
    assert (after["photo"]["loaded"], after["photo"]["dimensions"]) == (True, 1280)
    by_alias = from_file.post("/v1/embed/text", json={"text": "a cup", "model": "clip"}).json()
    assert by_alias["model"] == TINY


def test_coreviz_model_picks_a_served_model(two_models: TestClient, photos: dict[str, bytes]) -> None:
    uri = "data:image/jpeg;base64," + b64(photos["coffee"])
    default = two_models.post("/api/ai/embeddings", json={"image": uri, "model": "default"}).json()
    photo = two_models.post("/api/ai/embeddings", json={"image": uri, "model": PHOTO}).json()
    assert (default["model"], default["dimensions"]) == ("default", 128)
    assert (photo["model"], photo["dimensions"], len(photo["embedding"])) == (PHOTO, 1280, 1280)
    unknown = two_models.post("/api/ai/embeddings", json={"image": uri, "model": "vit-h-14"})
    assert unknown.status_code == 400
    assert unknown.json() == {
        "error": "Bad Request",
        "message": "Invalid image URL or missing required fields: "
        f"model 'vit-h-14' is not served here; {AVAILABLE}",
    }


def test_roboflow_clip_version_id_maps_to_served_models(
    from_file: TestClient, photos: dict[str, bytes]
) -> None:
    image = {"type": "base64", "value": b64(photos["coffee"])}

    def embed(version: str | None) -> list[float]:
        body = {"image": image} | ({"clip_version_id": version} if version else {})
        response = from_file.post("/clip/embed_image", json=body)
        assert response.status_code == 200, response.text
        [vector] = response.json()["embeddings"]
        return list(vector)

    # ViT-B-32 is an alias of the tiny model in the models file; "photo" is the photo model's name.
    assert len(embed(None)) == len(embed("ViT-B-32")) == 128
    assert np.allclose(embed(None), embed("ViT-B-32"), atol=1e-6)
    assert len(embed("photo")) == 1280
    # A documented Roboflow version that no served model is: Roboflow's error shape, naming the served ones.
    unserved = from_file.post("/clip/embed_text", json={"text": "a cup", "clip_version_id": "RN50"})
    assert unserved.status_code == 400
    assert unserved.json() == {
        "message": "clip_version_id 'RN50' is not served here; available: pixembed-tiny, photo"
    }
    text = from_file.post("/clip/embed_text", json={"text": "a cup", "clip_version_id": "photo"})
    assert (text.status_code, text.json()["message"]) == (
        400,
        f"model {PHOTO} has no text tower; use a CLIP model for text",
    )


def test_sambastudio_endpoints_map_to_models(from_file: TestClient, photos: dict[str, bytes]) -> None:
    upload = {"predict_file": ("coffee.jpg", photos["coffee"], "image/jpeg")}
    clip = from_file.post("/api/predict/file/shop/clip-endpoint", files=upload)
    photo = from_file.post("/api/predict/file/shop/photo-endpoint", files=upload)
    assert (clip.status_code, len(clip.json()["data"][0])) == (200, 128)
    assert (photo.status_code, len(photo.json()["data"][0])) == (200, 1280)
    texts = from_file.post("/api/predict/nlp/shop/clip-endpoint", json={"inputs": ["a cup"]})
    assert (texts.status_code, len(texts.json()["data"][0])) == (200, 128)
    unmapped = from_file.post("/api/predict/file/shop/other-endpoint", files=upload)
    assert unmapped.status_code == 400
    assert unmapped.json() == {
        "status_code": 400,
        "error": "SambaStudio endpoint 'shop/other-endpoint' is not served here; "
        "available: shop/clip-endpoint, shop/photo-endpoint",
    }


def test_regions_and_detection_use_the_chosen_model(two_models: TestClient, photos: dict[str, bytes]) -> None:
    image = b64(photos["chelsea"])
    boxes = {"image": image, "boxes": [[0, 0, 200, 200], [100, 50, 400, 300]]}
    regions = two_models.post("/v1/embed/regions", json={**boxes, "model": PHOTO})
    assert regions.status_code == 200, regions.text
    assert (regions.json()["model"], regions.json()["dimensions"]) == (PHOTO, 1280)
    assert [len(r["vector"]) for r in regions.json()["regions"]] == [1280, 1280]
    assert two_models.post("/v1/embed/regions", json=boxes).json()["dimensions"] == 128
    # Detection by CLIP region scoring matches regions with class texts: the photo model has no text.
    detect = {"image": image, "classes": ["a cat"]}
    assert two_models.post("/v1/detect", json=detect).status_code == 200
    refused = two_models.post("/v1/detect", json={**detect, "model": PHOTO})
    assert (refused.status_code, refused.json()["error"]) == (400, "no_text_tower")


def test_over_the_memory_budget_the_server_unloads_the_least_recently_used(
    photo_model: ClipModel, photo_model_data_dir: Path, tmp_path: Path, photos: dict[str, bytes]
) -> None:
    """A budget (PIXEMBED_MODEL_MEMORY_MB) smaller than either model: each load unloads the other, and a
    request for an unloaded model loads it again."""
    settings = _settings(photo_model_data_dir, tmp_path, model=TINY, extra_models=[PHOTO], model_memory_mb=1)
    with TestClient(create_app(settings)) as client:

        def loaded() -> list[str]:
            return [m["name"] for m in client.get("/v1/models").json()["served"] if m["loaded"]]

        # Both load at start; the photo model, loaded last, unloaded the tiny one.
        assert loaded() == [PHOTO]
        assert client.post("/v1/embed/text", json={"text": "a cat"}).json()["dimensions"] == 128
        assert loaded() == [TINY]
        image = {"image": b64(photos["coffee"]), "model": PHOTO}
        assert client.post("/v1/embed", json=image).json()["dimensions"] == 1280
        assert loaded() == [PHOTO]
        assert client.get("/readyz").status_code == 200  # the default, unloaded, is still ready to load
