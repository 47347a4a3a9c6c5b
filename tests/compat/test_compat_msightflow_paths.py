"""mSightFlow's other documented paths: /embedding/ and /embedding/search/ (its FAQ), /v1/detect/zero-shot
and /cv_tools/perceptual_dedup (its page), each the same work as a native route, in mSightFlow's shapes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.compat.conftest import KEY
from tests.detection_helpers import KINDS, iou, three_shape_scene
from tests.helpers import encode

AUTH = {"Authorization": f"Bearer {KEY}"}
PROMPTS = [f"{colour} {shape}" for shape, colour in KINDS] + ["green heart"]
SCENE = three_shape_scene()
PNG = ("scene.png", encode(SCENE.image), "image/png")
NOT_PNG = ("a.png", b"not a png", "image/png")


def photos() -> dict[str, Image.Image]:
    """Five unrelated photographs that scikit-image ships."""
    data = pytest.importorskip("skimage.data")
    arrays = {
        "astronaut": data.astronaut(),
        "coffee": data.coffee(),
        "chelsea": data.chelsea(),
        "rocket": data.rocket(),
        "camera": np.stack([data.camera()] * 3, axis=-1),
    }
    return {name: Image.fromarray(array) for name, array in arrays.items()}


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    return encode(image.convert("RGB"), "JPEG", quality=quality)


def test_embedding_is_the_same_vector_as_v1_embed(keyed_client: TestClient) -> None:
    image = jpeg(SCENE.image)
    native = keyed_client.post("/v1/embed", headers=AUTH, files={"image": ("q.jpg", image, "image/jpeg")})
    answer = keyed_client.post("/embedding/", headers=AUTH, files={"image": ("q.jpg", image, "image/jpeg")})
    assert answer.status_code == 200, answer.text
    vector = np.array(answer.json()["vector"])
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
    assert np.allclose(vector, native.json()["vector"], atol=1e-6)


def test_embedding_search_ranks_like_v1_embed_search(keyed_client: TestClient) -> None:
    dataset = {name: jpeg(image) for name, image in photos().items()}
    query = jpeg(photos()["coffee"].resize((256, 200)), quality=70)
    files = [("query", ("query.jpg", query, "image/jpeg"))]
    files += [("dataset", (f"{name}.jpg", data, "image/jpeg")) for name, data in dataset.items()]
    answers = [
        keyed_client.post(path, headers=AUTH, files=files, data={"top_k": "3"})
        for path in ("/embedding/search/", "/v1/embed/search")
    ]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    ours, native = (a.json()["results"] for a in answers)
    assert [hit["filename"] for hit in ours] == [hit["filename"] for hit in native]
    assert len(ours) == 3 and ours[0]["filename"] == "coffee.jpg"
    assert [hit["similarity"] for hit in ours] == pytest.approx(
        [hit["similarity"] for hit in native], abs=1e-6
    )


def test_zero_shot_detection_finds_each_prompted_shape_as_v1_detect_does(keyed_client: TestClient) -> None:
    image = encode(SCENE.image)
    answer = keyed_client.post(
        "/v1/detect/zero-shot",
        headers=AUTH,
        files={"image": ("scene.png", image, "image/png")},
        data={"prompts": PROMPTS},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["width"], body["height"]) == SCENE.image.size
    detections: list[dict[str, Any]] = body["detections"]
    assert set(detections[0]) == {"label", "score", "box"}
    for obj in SCENE.objects:
        label = f"{obj.colour} {obj.shape}"
        assert any(d["label"] == label and iou(d["box"], obj.box) >= 0.5 for d in detections), label
    assert all(d["label"] != "green heart" for d in detections)
    native = keyed_client.post(
        "/v1/detect",
        headers=AUTH,
        files={"image": ("scene.png", image, "image/png")},
        data={"classes": PROMPTS},
    ).json()["detections"]
    assert [(d["label"], d["box"]) for d in detections] == [(d["label"], d["box"]) for d in native]
    assert [d["score"] for d in detections] == pytest.approx([d["score"] for d in native], abs=1e-6)


def test_zero_shot_prompts_may_come_as_one_period_separated_text(keyed_client: TestClient) -> None:
    # Grounding DINO's own prompt form, "a . b . c", which mSightFlow's detector is built on.
    image = encode(SCENE.image)
    joined = keyed_client.post(
        "/v1/detect/zero-shot",
        headers=AUTH,
        files={"image": ("scene.png", image, "image/png")},
        data={"prompts": " . ".join(PROMPTS) + " ."},
    )
    assert joined.status_code == 200, joined.text
    labels = {d["label"] for d in joined.json()["detections"]}
    assert labels == {f"{colour} {shape}" for shape, colour in KINDS}


def test_perceptual_dedup_groups_the_copies_and_nothing_else(keyed_client: TestClient) -> None:
    originals = photos()
    files = [("images", (f"{name}.jpg", jpeg(image), "image/jpeg")) for name, image in originals.items()]
    coffee, cat = originals["coffee"], originals["chelsea"]
    copies = {
        "coffee_small.jpg": jpeg(coffee.resize((coffee.width // 2, coffee.height // 2)), quality=60),
        "coffee_q30.jpg": jpeg(coffee, quality=30),
        "chelsea_small.png": encode(cat.resize((cat.width * 2 // 3, cat.height * 2 // 3))),
    }
    files += [("images", (name, data, "image/jpeg")) for name, data in copies.items()]
    answer = keyed_client.post("/cv_tools/perceptual_dedup", headers=AUTH, files=files)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["hash"] == "dhash"
    groups = {frozenset([g["keep"], *(d["filename"] for d in g["duplicates"])]): g for g in body["groups"]}
    assert set(groups) == {
        frozenset({"coffee.jpg", "coffee_small.jpg", "coffee_q30.jpg"}),
        frozenset({"chelsea.jpg", "chelsea_small.png"}),
    }
    # The keeper is the largest file of its group; each duplicate's distance is within the threshold.
    assert {g["keep"] for g in body["groups"]} == {"coffee.jpg", "chelsea.jpg"}
    for group in body["groups"]:
        assert all(0 <= d["distance"] <= body["threshold"] for d in group["duplicates"])
    assert sorted(body["unique"]) == ["astronaut.jpg", "camera.jpg", "rocket.jpg"]


def test_perceptual_dedup_threshold_and_hash_are_the_callers(keyed_client: TestClient) -> None:
    originals = photos()
    files = [("images", (f"{name}.jpg", jpeg(image), "image/jpeg")) for name, image in originals.items()]
    files.append(("images", ("coffee_q30.jpg", jpeg(originals["coffee"], quality=30), "image/jpeg")))
    strict = keyed_client.post(
        "/cv_tools/perceptual_dedup", headers=AUTH, files=files, data={"threshold": "0", "hash": "phash"}
    )
    assert strict.status_code == 200, strict.text
    body = strict.json()
    assert (body["hash"], body["threshold"]) == ("phash", 0)
    for group in body["groups"]:
        assert all(d["distance"] == 0 for d in group["duplicates"])


@pytest.mark.parametrize(
    ("path", "files", "data", "needle"),
    [
        ("/embedding/", [("image", NOT_PNG)], {}, "image"),
        ("/embedding/search/", [("query", PNG)], {}, "dataset"),
        ("/embedding/search/", [("query", PNG), ("dataset", PNG)], {"top_k": "0"}, "top_k"),
        ("/v1/detect/zero-shot", [("image", PNG)], {}, "prompts"),
        (
            "/v1/detect/zero-shot",
            [("image", ("a.png", b"not a png", "image/png"))],
            {"prompts": "cat"},
            "image",
        ),
        ("/cv_tools/perceptual_dedup", [("images", PNG)], {"hash": "md5"}, "hash"),
        ("/cv_tools/perceptual_dedup", [("images", PNG)], {"threshold": "-1"}, "threshold"),
    ],
)
def test_bad_requests_are_clear_4xx(
    keyed_client: TestClient, path: str, files: list[Any], data: dict[str, str], needle: str
) -> None:
    response = keyed_client.post(path, headers=AUTH, files=files, data=data)
    assert 400 <= response.status_code < 500, response.text
    assert needle in response.json()["message"]


@pytest.mark.parametrize(
    "path", ["/embedding/", "/embedding/search/", "/v1/detect/zero-shot", "/cv_tools/perceptual_dedup"]
)
def test_each_path_needs_the_bearer_key(keyed_client: TestClient, path: str) -> None:
    response = keyed_client.post(path, files={"image": ("a.png", encode(SCENE.image), "image/png")})
    assert response.status_code == 401
    assert response.json()["error"]


def test_the_new_paths_document_their_multipart_bodies_and_answers(keyed_client: TestClient) -> None:
    # That the mSightFlow tag lists all six of its paths is test_compat_openapi_auth's SERVICES check.
    schema = keyed_client.get("/openapi.json").json()
    for path in ("/embedding/", "/v1/detect/zero-shot", "/cv_tools/perceptual_dedup"):
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        assert "multipart/form-data" in content
        assert schema["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
