"""Regions in collections: a scene's shapes stored as child items, and search by a box of a query image."""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import quote

from fastapi.testclient import TestClient
from PIL import Image

from pixembed.synthetic.shapes import caption
from tests.detection_helpers import KINDS, iou, three_shape_scene
from tests.helpers import encode

SCENE = three_shape_scene()
SCENE_B64 = base64.b64encode(encode(SCENE.image)).decode()
CAPTIONS = [caption(s, c) for s, c in KINDS]


def test_regions_are_stored_as_children_of_their_image(client: TestClient) -> None:
    assert client.post("/v1/collections", json={"name": "street"}).status_code == 201
    body = {
        "items": [{"id": "photo", "image": SCENE_B64, "metadata": {"shop": "a"}}],
        "regions": True,
        "region_classes": CAPTIONS,
    }
    response = client.post("/v1/collections/street/items", json=body)
    assert response.status_code == 200, response.text
    children = response.json()["data"][0]["regions"]
    assert children == [f"photo#{n}" for n in range(len(children))]
    assert client.get("/v1/collections/street").json()["count"] == 1 + len(children)
    # "#" starts a URL fragment: a child's id goes into a path percent-encoded.
    stored = [
        client.get(f"/v1/collections/street/items/{quote(c, safe='')}").json()["metadata"] for c in children
    ]
    assert all(m["parent_id"] == "photo" and m["shop"] == "a" for m in stored)
    for obj in SCENE.objects:
        assert any(m["label"] == obj.caption and iou(m["box"], obj.box) >= 0.5 for m in stored), obj
    # Each child's thumbnail is its crop: about the shape of its box, not the whole scene.
    for child, metadata in zip(children, stored, strict=True):
        picture = client.get(f"/v1/collections/street/items/{quote(child, safe='')}/thumbnail")
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
        x1, y1, x2, y2 = metadata["box"]
        with Image.open(io.BytesIO(picture.content)) as thumb:
            assert abs(thumb.width / thumb.height - (x2 - x1) / (y2 - y1)) < 0.1
    # Fewer regions next time: the leftover children go, and their thumbnails with them.
    body["region_classes"] = CAPTIONS[:1]
    again = client.post("/v1/collections/street/items", json=body).json()["data"][0]["regions"]
    assert len(again) < len(children)
    for gone in children[len(again) :]:
        url = f"/v1/collections/street/items/{quote(gone, safe='')}/thumbnail"
        assert client.get(url).status_code == 404
    body["region_classes"] = CAPTIONS
    assert client.post("/v1/collections/street/items", json=body).status_code == 200
    only_children = client.post(
        "/v1/collections/street/search",
        json={"text": "a red circle", "top_k": 1, "filter": {"parent_id": "photo"}},
    ).json()["results"]
    assert only_children[0]["metadata"]["label"] == "a red circle"


def test_search_by_a_box_of_the_query_image_finds_that_shape(
    client: TestClient, shape_images: dict[str, list[bytes]], shapes_collection: str
) -> None:
    for obj in SCENE.objects:
        if obj.caption not in shape_images:
            continue
        body = {"image": SCENE_B64, "box": list(obj.box), "top_k": 3}
        response = client.post("/v1/collections/shapes/search", json=body)
        assert response.status_code == 200, response.text
        assert [r["metadata"]["caption"] for r in response.json()["results"]] == [obj.caption] * 3


def test_bad_region_searches_are_400s(client: TestClient, shapes_collection: str) -> None:
    outside = client.post("/v1/collections/shapes/search", json={"image": SCENE_B64, "box": [0, 0, 999, 10]})
    assert outside.status_code == 400
    assert "outside the 320x240 image" in outside.json()["message"]
    alone = client.post("/v1/collections/shapes/search", json={"text": "a red circle", "box": [0, 0, 9, 9]})
    assert alone.status_code == 400
    assert "send it with an image" in alone.json()["message"]


def test_multipart_search_takes_a_box_too(client: TestClient, shapes_collection: str) -> None:
    circle = next(o for o in SCENE.objects if o.shape == "circle")
    files = {"image": ("scene.png", encode(SCENE.image), "image/png")}
    response = client.post(
        "/v1/collections/shapes/search",
        files=files,
        data={"box": json.dumps(list(circle.box)), "top_k": "2"},
    )
    assert response.status_code == 200, response.text
    assert [r["metadata"]["caption"] for r in response.json()["results"]] == ["a red circle"] * 2
    bad = client.post("/v1/collections/shapes/search", files=files, data={"box": "[1, 2]"})
    assert bad.status_code == 400
    assert "four integers" in bad.json()["message"]
