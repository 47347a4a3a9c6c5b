"""Thumbnails of stored items: made at ingest, served small, gone with their item or collection."""

from __future__ import annotations

import base64
import io
import json
import random
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from pixembed.cli import app as cli_app
from pixembed.runtime.model import ClipModel
from tests.factories import MakeClient, ServeApp
from tests.helpers import encode


def _picture(width: int, height: int) -> bytes:
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = (220, 30, 30)  # left half red, right half black: colour survives the JPEG
    return encode(Image.fromarray(pixels), "PNG")


def _thumbnail(client: TestClient, collection: str, item_id: str) -> Image.Image:
    response = client.get(f"/v1/collections/{collection}/items/{item_id}/thumbnail")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    return Image.open(io.BytesIO(response.content))


def test_items_added_from_images_get_small_thumbnails(client: TestClient) -> None:
    assert client.post("/v1/collections", json={"name": "pics"}).status_code == 201
    files = [("image", ("wide.png", _picture(1200, 600), "image/png"))]
    files.append(("image", ("tiny.png", _picture(40, 30), "image/png")))
    added = client.post("/v1/collections/pics/items", files=files, data={"id": ["wide", "tiny"]})
    assert added.json()["written"] == 2
    wide = _thumbnail(client, "pics", "wide")
    assert wide.format == "JPEG"
    assert wide.size == (256, 128)  # fits 256 px, aspect ratio kept
    red = np.asarray(wide.convert("RGB"))[64, 32]
    assert red[0] > 180 and red[1] < 80  # the picture, not a placeholder
    assert _thumbnail(client, "pics", "tiny").size == (40, 30)  # never scaled up


def test_json_items_get_thumbnails_and_vectors_do_not(client: TestClient, tiny_model: ClipModel) -> None:
    client.post("/v1/collections", json={"name": "mixed"})
    vector = [0.0] * tiny_model.info.dimensions
    vector[0] = 1.0
    items = [
        {"id": "pic", "image": {"base64": base64.b64encode(_picture(300, 300)).decode()}},
        {"id": "vec", "vector": vector},
    ]
    assert client.post("/v1/collections/mixed/items", json={"items": items}).json()["written"] == 2
    assert _thumbnail(client, "mixed", "pic").size == (256, 256)
    missing = client.get("/v1/collections/mixed/items/vec/thumbnail")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "not_found",
        "message": "item 'vec' in collection 'mixed' has no thumbnail",
        "status": 404,
    }
    # Re-writing the picture's id as a bare vector drops the old picture.
    client.post("/v1/collections/mixed/items", json={"items": [{"id": "pic", "vector": vector}]})
    assert client.get("/v1/collections/mixed/items/pic/thumbnail").status_code == 404


def test_thumbnails_go_with_their_item_and_collection(client: TestClient) -> None:
    client.post("/v1/collections", json={"name": "gone"})
    files = [("image", (f"{i}.png", _picture(64, 64), "image/png")) for i in range(2)]
    client.post("/v1/collections/gone/items", files=files, data={"id": ["a", "b"]})
    assert client.delete("/v1/collections/gone/items/a").status_code == 204
    assert client.get("/v1/collections/gone/items/a/thumbnail").status_code == 404
    assert client.get("/v1/collections/gone/items/b/thumbnail").status_code == 200
    client.delete("/v1/collections/gone")
    missing = client.get("/v1/collections/gone/items/b/thumbnail")
    assert missing.status_code == 404 and "collection" in missing.json()["message"]
    client.post("/v1/collections", json={"name": "gone"})
    assert client.get("/v1/collections/gone/items/b/thumbnail").status_code == 404


def test_cli_index_stores_thumbnails_under_path_ids(
    tmp_path: Path, make_client: MakeClient, shape_images: dict[str, list[bytes]]
) -> None:
    folder = tmp_path / "photos" / "circles"
    folder.mkdir(parents=True)
    (folder / "red.png").write_bytes(shape_images["a red circle"][0])
    data = tmp_path / "data"
    result = CliRunner().invoke(
        cli_app,
        [
            "index",
            str(tmp_path / "photos"),
            "-c",
            "shapes",
            "--model",
            "pixembed-tiny",
            "--data-dir",
            str(data),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["indexed"] == 1
    client = make_client(data_dir=data)
    # The id holds a '/', sent escaped as a browser's encodeURIComponent would.
    thumb = client.get("/v1/collections/shapes/items/circles%2Fred.png/thumbnail")
    assert thumb.status_code == 200, thumb.text
    assert Image.open(io.BytesIO(thumb.content)).size == (160, 160)


def _solid(colour: tuple[int, int, int], side: int = 900) -> bytes:
    return encode(Image.new("RGB", (side, side), colour), "PNG")


def test_a_thumbnail_never_outlives_or_misnames_its_item_under_racing_deletes(serve_app: ServeApp) -> None:
    """Adds race deletes and re-creations of their collection (issue 14, item 8): afterwards an item that
    is gone has no thumbnail, and one that exists shows its own picture, never the older one."""
    red, blue = _solid((230, 20, 20)), _solid((20, 20, 230))
    rng = random.Random(14)
    with httpx.Client(base_url=serve_app(), timeout=60) as http:
        vectors = {}
        for name, picture in (("red", red), ("blue", blue)):
            embedded = http.post("/v1/embed", files={"image": (f"{name}.png", picture, "image/png")})
            vectors[name] = np.asarray(embedded.json()["vector"])

        def add(picture: bytes) -> None:
            http.post("/v1/collections/race/items", files={"image": ("x.png", picture)}, data={"id": "x"})

        outcomes = set()
        for round_ in range(24):
            assert http.post("/v1/collections", json={"name": "race"}).status_code == 201
            adding = threading.Thread(target=add, args=(red,))
            adding.start()
            time.sleep(rng.uniform(0.0, 0.08))  # delete at some point of the add: before, during, after
            assert http.delete("/v1/collections/race").status_code == 204
            assert http.post("/v1/collections", json={"name": "race"}).status_code in (201, 409)
            if round_ % 2:
                add(blue)  # the re-created collection gets its own item "x"
            adding.join()
            item = http.get("/v1/collections/race/items/x", params={"include_vector": "true"})
            thumb = http.get("/v1/collections/race/items/x/thumbnail")
            if item.status_code == 404:
                assert thumb.status_code == 404, f"round {round_}: a thumbnail outlived its item"
                outcomes.add("gone")
            else:
                stored = np.asarray(item.json()["vector"])
                colour = "red" if float(stored @ vectors["red"]) > float(stored @ vectors["blue"]) else "blue"
                if thumb.status_code == 200:
                    r, _, b = Image.open(io.BytesIO(thumb.content)).convert("RGB").getpixel((10, 10))
                    assert ("red" if r > b else "blue") == colour, f"round {round_}: another item's picture"
                outcomes.add(colour)
            assert http.delete("/v1/collections/race").status_code == 204
        assert "gone" in outcomes or "red" in outcomes  # the race really ran both ways over the rounds
