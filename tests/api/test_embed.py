"""POST /v1/embed and /v1/embed/text through the real app with the tiny model."""

from __future__ import annotations

import base64

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from tests.helpers import encode


def test_multipart_image_gives_a_unit_vector_with_model_and_dimensions(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    png = shape_images["a red circle"][0]
    response = client.post("/v1/embed", files={"image": ("red.png", png, "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "pixembed-tiny"
    vector = np.array(body["vector"])  # the mSightFlow field
    assert vector.shape == (body["dimensions"],)
    assert abs(np.linalg.norm(vector) - 1) < 1e-5
    assert body["data"][0]["filename"] == "red.png"
    assert body["data"][0]["embedding"] == body["vector"]


def test_same_bytes_twice_give_the_same_vector(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    png = shape_images["a blue square"][0]
    first = client.post("/v1/embed", files={"image": ("a.png", png)}).json()["vector"]
    second = client.post("/v1/embed", files={"image": ("b.png", png)}).json()["vector"]
    assert np.abs(np.array(first) - np.array(second)).max() <= 1e-6


def test_json_base64_and_data_uri_match_the_upload(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    png = shape_images["a green triangle"][0]
    b64 = base64.b64encode(png).decode()
    uploaded = client.post("/v1/embed", files={"image": ("t.png", png)}).json()["vector"]
    as_json = client.post(
        "/v1/embed", json={"images": [b64, f"data:image/png;base64,{b64}", {"base64": b64}]}
    )
    assert as_json.status_code == 200, as_json.text
    for item in as_json.json()["data"]:
        assert np.abs(np.array(item["embedding"]) - np.array(uploaded)).max() <= 1e-5
    assert "vector" not in as_json.json()  # a batch has no single vector


def test_batch_reports_a_bad_item_without_failing_the_others(
    client: TestClient, shape_images: dict[str, list[bytes]]
) -> None:
    files = [
        ("image", ("good.png", shape_images["a red circle"][0], "image/png")),
        ("image", ("bad.jpg", b"this is not an image", "image/jpeg")),
        ("image", ("good2.png", shape_images["a blue square"][0], "image/png")),
    ]
    response = client.post("/v1/embed", files=files)
    assert response.status_code == 200
    data = response.json()["data"]
    assert [item["index"] for item in data] == [0, 1, 2]
    assert data[0]["embedding"] and data[2]["embedding"]
    assert data[1]["error"]["status"] == 415
    assert "embedding" not in data[1]


def test_formats_decode_to_nearly_the_same_vector(client: TestClient) -> None:
    image = Image.new("RGB", (120, 90), (200, 30, 30))
    vectors = []
    for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"):
        response = client.post("/v1/embed", files={"image": (f"x.{fmt.lower()}", encode(image, fmt))})
        assert response.status_code == 200, (fmt, response.text)
        vectors.append(np.array(response.json()["vector"]))
    reference = vectors[0]
    assert min(float(v @ reference) for v in vectors) > 0.98


def test_text_embedding_single_and_list(client: TestClient) -> None:
    one = client.post("/v1/embed/text", json={"text": "a red circle"})
    assert one.status_code == 200
    body = one.json()
    assert len(body["vector"]) == body["dimensions"]
    many = client.post("/v1/embed/text", json={"text": ["a red circle", "a blue square"]}).json()
    assert [item["text"] for item in many["data"]] == ["a red circle", "a blue square"]
    assert np.allclose(many["data"][0]["embedding"], body["vector"], atol=1e-5)
    assert "vector" not in many


def test_text_and_image_share_one_space(client: TestClient, shape_images: dict[str, list[bytes]]) -> None:
    texts = client.post("/v1/embed/text", json={"text": ["a red circle", "a blue square"]}).json()["data"]
    red = np.array(
        client.post("/v1/embed", files={"image": shape_images["a red circle"][1]}).json()["vector"]
    )
    red_text, blue_text = (np.array(t["embedding"]) for t in texts)
    assert red @ red_text > red @ blue_text
