"""Data the API tests share: a collection of the shape pictures, added through the API, and photographs."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.helpers import encode

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


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    """Three of scikit-image's photographs, and a cropped, shrunk copy of the cat, as JPEGs."""
    data = pytest.importorskip("skimage.data")
    images = {name: Image.fromarray(getattr(data, name)()).convert("RGB") for name in ("chelsea", "coffee")}
    images["rocket"] = Image.fromarray(data.rocket())
    cat = images["chelsea"]
    images["chelsea-copy"] = cat.crop((20, 10, cat.width - 30, cat.height - 15)).resize((220, 165))
    return {name: encode(image, "JPEG") for name, image in images.items()}
