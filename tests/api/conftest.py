"""Stored data the API tests share: a collection of the shape pictures, added through the API."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

SHAPES = "shapes"


@pytest.fixture
def shapes_collection(client: TestClient, shape_images: dict[str, list[bytes]]) -> str:
    """The name of a collection in ``client``'s app holding every picture of ``shape_images`` as one
    multipart upload: ids like "a-red-circle-0", metadata {"caption": "a red circle", "n": 0}."""
    assert client.post("/v1/collections", json={"name": SHAPES}).status_code == 201
    files, ids, metadata = [], [], []
    for caption, images in shape_images.items():
        for i, png in enumerate(images):
            files.append(("image", (f"{caption}-{i}.png", png, "image/png")))
            ids.append(f"{caption.replace(' ', '-')}-{i}")
            metadata.append(json.dumps({"caption": caption, "n": i}))
    added = client.post(
        f"/v1/collections/{SHAPES}/items", files=files, data={"id": ids, "metadata": metadata}
    )
    assert added.status_code == 200, added.text
    assert added.json()["written"] == len(files)
    return SHAPES
