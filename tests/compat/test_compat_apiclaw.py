"""APIClaw's image-embedding and image-detection, replayed from its blog's requests and recipes."""

from __future__ import annotations

import base64
import io
import re
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pixembed.api.compat.apiclaw import UNLIMITED_CREDITS
from pixembed.api.state import state_of
from pixembed.runtime.model import ClipModel
from pixembed.services.compare import softmax_at_scale
from pixembed.services.labelsets import FASHION
from tests.compat.conftest import KEY
from tests.detection_helpers import three_shape_scene
from tests.factories import MakeClient
from tests.helpers import encode

AUTH = {"Authorization": f"Bearer {KEY}"}
EMBED = "/openapi/v2/model/image-embedding"
DETECT = "/openapi/v2/model/image-detection"
BOXES = [[0, 0, 160, 160], [160, 0, 320, 160]]


def assert_meta(meta: dict[str, Any], consumed: int = 1, remaining: int = UNLIMITED_CREDITS) -> None:
    """The meta block; by default that of a call charged to an environment key (no quota)."""
    assert re.fullmatch(r"req_[0-9a-f]{16}", meta["requestId"])
    assert datetime.strptime(meta["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert meta["creditsConsumed"] == consumed
    assert meta["creditsRemaining"] == remaining


def native_vectors(client: TestClient, images: list[Image.Image]) -> np.ndarray:
    files = [("image", (f"{i}.png", encode(image), "image/png")) for i, image in enumerate(images)]
    data = client.post("/v1/embed", files=files, headers=AUTH).json()["data"]
    return np.array([item["embedding"] for item in data])


def test_embedding_with_boxes_crops_tags_and_scores(
    keyed_client: TestClient, image_server: str, two_shapes: Image.Image, tiny_model: ClipModel
) -> None:
    body = {
        "image": f"{image_server}/outfit.png",
        "boundingBoxes": BOXES,
        "withTag": True,
        "withEmbedding": True,
        "text": ["red dress"],
    }
    response = keyed_client.post(EMBED, headers=AUTH, json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["success"] is True
    assert_meta(result["meta"])
    data = result["data"]
    assert data["boundingBoxes"] == BOXES
    crops = native_vectors(keyed_client, [two_shapes.crop(tuple(box)) for box in BOXES])
    assert np.allclose(data["embeddings"], crops, atol=1e-5)
    # Each tag is the best of the ten fashion prompts by zero-shot softmax, as /v1/embed/text would give.
    prompts = keyed_client.post("/v1/embed/text", headers=AUTH, json={"text": FASHION.prompts}).json()["data"]
    prompt_vectors = np.array([p["embedding"] for p in prompts])
    for (label, score), crop in zip(data["tags"], crops, strict=True):
        probabilities = softmax_at_scale(
            (prompt_vectors @ crop).astype(np.float32), tiny_model.info.logit_scale
        )
        assert label == FASHION.labels[int(np.argmax(probabilities))].name
        assert score == pytest.approx(float(probabilities.max()), abs=1e-4)
    text = np.array(
        keyed_client.post("/v1/embed/text", headers=AUTH, json={"text": "red dress"}).json()["vector"]
    )
    assert np.allclose(data["textRelevanceScores"], crops @ text, atol=1e-4)


def test_defaults_several_texts_and_no_embeddings(keyed_client: TestClient, image_server: str) -> None:
    body = {"image": f"{image_server}/outfit.jpg", "boundingBoxes": BOXES, "text": ["a", "b", "c"]}
    data = keyed_client.post(EMBED, headers=AUTH, json={**body, "withEmbedding": False}).json()["data"]
    assert data["tags"] is None
    assert data["embeddings"] is None
    plain = keyed_client.post(EMBED, headers=AUTH, json={"image": body["image"], "boundingBoxes": BOXES})
    assert len(plain.json()["data"]["embeddings"]) == 2
    assert plain.json()["data"]["textRelevanceScores"] is None
    assert plain.json()["data"]["textRelevanceScoresPerText"] is None


def test_several_texts_keep_the_documented_number_list(
    keyed_client: TestClient, image_server: str, two_shapes: Image.Image
) -> None:
    texts = ["a green triangle", "a red circle", "a blue square"]
    body = {"image": f"{image_server}/outfit.png", "boundingBoxes": BOXES, "text": texts}
    data = keyed_client.post(EMBED, headers=AUTH, json=body).json()["data"]
    # APIClaw's type is number[] | null: one number per item, its best match among the texts.
    scores = data["textRelevanceScores"]
    assert len(scores) == 2 and all(isinstance(score, float) for score in scores)
    crops = native_vectors(keyed_client, [two_shapes.crop(tuple(box)) for box in BOXES])
    native = keyed_client.post("/v1/embed/text", headers=AUTH, json={"text": texts}).json()["data"]
    expected = crops @ np.array([item["embedding"] for item in native]).T
    assert np.allclose(data["textRelevanceScoresPerText"], expected, atol=1e-4)
    assert np.allclose(scores, expected.max(axis=1), atol=1e-4)
    # The red circle (left box) matches "a red circle" best, the blue square (right box) "a blue square".
    assert np.argmax(data["textRelevanceScoresPerText"], axis=1).tolist() == [1, 2]
    one = keyed_client.post(EMBED, headers=AUTH, json={**body, "text": "a red circle"}).json()["data"]
    assert np.allclose(one["textRelevanceScores"], expected[:, 1], atol=1e-4)


def test_typescript_recipe_reads_tags_and_embeddings_from_a_real_server(
    live_server: str, image_server: str
) -> None:
    body = {"image": f"{image_server}/outfit.webp", "boundingBoxes": BOXES, "withEmbedding": True}
    response = httpx.post(
        f"{live_server}{EMBED}", headers=AUTH, json={**body, "withTag": True, "text": "shoes"}
    )
    data = response.json()
    assert data["success"] is True
    labels = {label.name for label in FASHION.labels}
    assert all(tag[0] in labels and 0 < tag[1] <= 1 for tag in data["data"]["tags"])
    assert len(data["data"]["textRelevanceScores"]) == 2


def test_python_recipe_without_boxes_detects_first(live_server: str, image_server: str) -> None:
    resp = httpx.post(
        f"{live_server}{EMBED}",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"image": f"{image_server}/outfit.png", "withEmbedding": True, "withTag": True, "topK": 3},
        timeout=30.0,
    )
    result = resp.json()
    assert resp.status_code == 200, resp.text
    assert result["success"] is True
    assert_meta(result["meta"])
    data = result["data"]
    # The tiny model knows no fashion item, so the calibrated detector finds none: empty, not invented.
    assert data["boundingBoxes"] == [] and data["embeddings"] == [] and data["tags"] == []


def scene_b64() -> str:
    return base64.b64encode(encode(three_shape_scene().image)).decode()


def test_detection_envelope_ids_filter_and_top_k(make_client: MakeClient) -> None:
    # Threshold 0: the tiny model's (zero-scored) fashion boxes come back, so the answer's shape shows.
    client = make_client(api_keys=[KEY], detect_threshold=0.0)
    body = {"image": scene_b64(), "topK": 4, "classes": [6, 8]}
    result = client.post(DETECT, headers=AUTH, json=body).json()
    assert result["success"] is True
    assert_meta(result["meta"])
    detections = result["data"]["detections"]
    assert result["data"]["annotatedImage"] is None
    assert 1 <= len(detections) <= 4
    assert {d["classId"] for d in detections} <= {6, 8}
    for d in detections:
        assert set(d) == {"areaRatio", "centerDistanceRatio", "classId", "score", "boundingBox"}
        x1, y1, x2, y2 = d["boundingBox"]
        assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 240
    scores = [d["score"] for d in detections]
    assert scores == sorted(scores, reverse=True)
    drawn = client.post(DETECT, headers=AUTH, json={**body, "returnImage": True}).json()["data"]
    png = Image.open(io.BytesIO(base64.b64decode(drawn["annotatedImage"])))
    assert png.format == "PNG" and png.size == (320, 240)


def test_detection_of_a_picture_without_fashion_items_is_empty(keyed_client: TestClient) -> None:
    result = keyed_client.post(DETECT, headers=AUTH, json={"image": scene_b64(), "topK": 10}).json()
    assert result["success"] is True
    assert result["data"] == {"detections": [], "annotatedImage": None}


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        (EMBED, {"boundingBoxes": [[0, 0, 321, 160]]}, "outside the 320x160 image"),
        (EMBED, {"boundingBoxes": [[-1, 0, 10, 10]]}, "outside"),
        (EMBED, {"boundingBoxes": [[50, 0, 50, 160]]}, "is empty"),
        (EMBED, {"boundingBoxes": [[0, 0, 10]]}, "boundingBoxes.0"),
        (EMBED, {"boundingBoxes": [[0, 0, 10.5, 10]]}, "boundingBoxes.0.2"),
        (EMBED, {"boundingBoxes": BOXES, "topK": 0}, "topK"),
        (EMBED, {"boundingBoxes": BOXES, "text": [""] * 2000}, "texts"),
        (DETECT, {}, "topK"),
        (DETECT, {"topK": 51}, "topK"),
        (DETECT, {"topK": 5, "classes": [10]}, "class id"),
    ],
)
def test_bad_requests_answer_a_400_envelope(
    keyed_client: TestClient, image_server: str, path: str, body: dict[str, Any], needle: str
) -> None:
    response = keyed_client.post(path, headers=AUTH, json={"image": f"{image_server}/outfit.png", **body})
    assert response.status_code == 400, response.text
    result = response.json()
    assert result["success"] is False
    assert result["error"]["code"] in ("INVALID_REQUEST", "TOO_MANY_ITEMS")
    assert needle in result["error"]["message"]


def test_an_unfetchable_image_is_a_422_envelope(keyed_client: TestClient, image_server: str) -> None:
    body = {"image": f"{image_server}/notes.txt", "boundingBoxes": BOXES}
    response = keyed_client.post(EMBED, headers=AUTH, json=body)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize("path", [EMBED, DETECT])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer hms_live_YOUR_API_KEY"}])
def test_missing_or_wrong_key_is_a_401_envelope(
    keyed_client: TestClient, path: str, headers: dict[str, str]
) -> None:
    response = keyed_client.post(path, headers=headers, json={"image": "x", "topK": 1})
    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    # No key was accepted: nothing consumed and, still a number, nothing to spend.
    assert_meta(response.json()["meta"], consumed=0, remaining=0)


def test_each_call_costs_one_credit_of_the_keys_quota(keyed_client: TestClient, image_server: str) -> None:
    keys = state_of(keyed_client.app).keys.store
    key, info = keys.create("claw", ("read",), quota="3/month")
    auth = {"Authorization": f"Bearer {key}"}
    body = {"image": f"{image_server}/outfit.png", "boundingBoxes": BOXES, "withEmbedding": False}
    first = keyed_client.post(EMBED, headers=auth, json=body)
    assert first.status_code == 200, first.text
    assert_meta(first.json()["meta"], consumed=1, remaining=2)
    # A failure after the key was charged still cost the call, as the quota counts it.
    failed = keyed_client.post(EMBED, headers=auth, json={**body, "boundingBoxes": [[0, 0, 999, 9]]})
    assert failed.status_code == 400
    assert_meta(failed.json()["meta"], consumed=1, remaining=1)
    detected = keyed_client.post(DETECT, headers=auth, json={"image": scene_b64(), "topK": 1})
    assert_meta(detected.json()["meta"], consumed=1, remaining=0)
    assert keys.get(info.id).quota_used == 3
    spent = keyed_client.post(EMBED, headers=auth, json=body)
    assert spent.status_code == 429
    assert_meta(spent.json()["meta"], consumed=0, remaining=0)
    assert keys.get(info.id).quota_used == 3


def test_a_key_without_quota_answers_the_documented_sentinel(
    keyed_client: TestClient, image_server: str
) -> None:
    keys = state_of(keyed_client.app).keys.store
    key, _ = keys.create("unlimited", ("read",))
    body = {"image": f"{image_server}/outfit.png", "boundingBoxes": BOXES}
    response = keyed_client.post(EMBED, headers={"Authorization": f"Bearer {key}"}, json=body)
    meta = response.json()["meta"]
    assert_meta(meta, consumed=1, remaining=2**31 - 1)
    # A client's arithmetic on the balance works (a null would raise TypeError here).
    assert meta["creditsRemaining"] - meta["creditsConsumed"] > 0
