"""pixembed.Client against a real server on loopback: inputs, vectors, rankings, collections, errors."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixembed import Client, errors
from pixembed.runtime.model import ClipModel

RED = "a red circle"
BLUE = "a blue square"


def _pil(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_every_image_input_gives_the_same_unit_vector(
    api: Client, tmp_path: Path, shape_images: dict[str, list[bytes]], tiny_model: ClipModel
) -> None:
    png = shape_images[RED][0]
    path = tmp_path / "red.png"
    path.write_bytes(png)
    data_uri = "data:image/png;base64," + base64.b64encode(png).decode()
    inputs = [path, str(path), png, _pil(png), np.asarray(_pil(png)), data_uri]
    vectors = [api.embed(x) for x in inputs]
    for vector in vectors:
        assert vector.dtype == np.float32
        assert vector.shape == (tiny_model.info.dimensions,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
        np.testing.assert_allclose(vector, vectors[0], atol=1e-5)


def test_text_vectors_rank_the_matching_picture_first(
    api: Client, shape_images: dict[str, list[bytes]]
) -> None:
    red, blue = api.embed(shape_images[RED][0]), api.embed(shape_images[BLUE][0])
    text = api.embed_text(RED)
    assert float(text @ red) > float(text @ blue)
    both = api.embed_texts([RED, BLUE])
    assert both.shape == (2, red.shape[0]) and both.dtype == np.float32
    np.testing.assert_allclose(both[0], text, atol=1e-5)


def test_a_bad_image_in_a_batch_fails_alone(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    batch = api.embed_many([shape_images[RED][0], b"this is not an image", shape_images[BLUE][0]])
    assert batch.model == "pixembed-tiny"
    assert [item.embedding is not None for item in batch.data] == [True, False, True]
    failed = batch.data[1].error
    assert failed is not None and isinstance(failed.exception(), errors.UnsupportedMediaType)
    with pytest.raises(errors.UnsupportedMediaType):
        _ = batch.vectors


def test_compare_ranks_the_right_label(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    labels = [BLUE, RED, "a green triangle"]
    result = api.compare(shape_images[RED][1], labels)
    assert result.ranking[0].prompt == RED
    assert result.probabilities.shape == (3,)
    assert abs(float(result.probabilities.sum()) - 1.0) < 1e-4
    by_text = api.compare(text=RED, images=[shape_images[BLUE][0], shape_images[RED][0]])
    assert by_text.ranking[0].index == 1


def test_posted_set_search_by_text_and_image(api: Client, shape_images: dict[str, list[bytes]]) -> None:
    dataset = [png for pngs in shape_images.values() for png in pngs]  # red circles are 0, 1, 2
    found = api.search(dataset, text=RED, top_k=3)
    assert sorted(hit.index for hit in found.results) == [0, 1, 2]
    assert found.searched == len(dataset)
    by_image = api.search(dataset, query=shape_images[BLUE][0], top_k=3)
    assert sorted(hit.index for hit in by_image.results) == [3, 4, 5]


def test_collection_lifecycle_items_search_and_thumbnails(
    api: Client, shape_images: dict[str, list[bytes]]
) -> None:
    info = api.create_collection("shapes")
    assert (info.name, info.model, info.count) == ("shapes", "pixembed-tiny", 0)
    images, ids, metadata = [], [], []
    for caption, pngs in shape_images.items():
        for i, png in enumerate(pngs):
            images.append(png)
            ids.append(f"{caption.split()[-1]}/{i}")  # ids with '/' must survive the URL
            metadata.append({"caption": caption, "n": i})
    added = api.add_images("shapes", images, ids=ids, metadata=metadata)
    assert added.written == len(images) and added.ids == ids
    spare = api.embed(shape_images[RED][0])
    assert api.add_vectors("shapes", [spare], ids=["vec"], metadata=[{"caption": "vector"}]).written == 1
    assert api.get_collection("shapes").count == len(images) + 1
    assert [c.name for c in api.list_collections()] == ["shapes"]

    hits = api.search_collection("shapes", text="a yellow star", top_k=3)
    assert [h.metadata["caption"] for h in hits] == ["a yellow star"] * 3
    filtered = api.search_collection("shapes", text="a yellow star", top_k=2, filter={"caption": RED})
    assert {h.metadata["caption"] for h in filtered} == {RED}
    like = api.search_collection("shapes", id="circle/0", top_k=2, filter={"caption": RED})
    assert [h.id for h in like] in (["circle/1", "circle/2"], ["circle/2", "circle/1"])
    by_vector = api.search_collection("shapes", vector=spare, top_k=1)
    assert by_vector[0].score > 0.999

    stored = api.get_item("shapes", "circle/0", include_vector=True)
    # The caller's metadata, plus the size and perceptual hashes kept for dedup under "image".
    facts = stored.metadata.pop("image")
    assert stored.metadata == {"caption": RED, "n": 0}
    assert facts["width"] > 0 and set(facts["hashes"]) == {
        "phash",
        "dhash",
        "ahash",
        "whash",
        "phash_trimmed",
        "phash_mirrored",
    }
    assert stored.vector is not None and stored.vector.dtype == np.float32
    np.testing.assert_allclose(stored.vector, spare, atol=1e-5)

    thumb = Image.open(io.BytesIO(api.thumbnail("shapes", "circle/0")))
    assert thumb.format == "JPEG" and max(thumb.size) <= 256
    with pytest.raises(errors.NotFound, match="has no thumbnail"):
        api.thumbnail("shapes", "vec")

    api.delete_item("shapes", "circle/0")
    with pytest.raises(errors.NotFound):
        api.get_item("shapes", "circle/0")
    api.delete_collection("shapes")
    with pytest.raises(errors.NotFound, match="shapes"):
        api.get_collection("shapes")


def test_server_errors_arrive_as_pixembed_errors_with_the_server_message(api: Client) -> None:
    api.create_collection("once")
    with pytest.raises(errors.Conflict) as conflict:
        api.create_collection("once")
    assert "once" in conflict.value.message
    with pytest.raises(errors.InvalidRequest, match="top_k"):
        api.search_collection("once", text="x", top_k=0)
    with pytest.raises(errors.InvalidRequest, match="invalid collection name"):
        api.create_collection("../nope")
    with pytest.raises(errors.UndecodableImage):
        api.embed(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(errors.InvalidRequest, match="no such image file"):
        api.embed("/no/such/file.png")
    with pytest.raises(errors.InvalidRequest, match="uint8"):
        api.embed(np.zeros((4, 4, 3), dtype=np.float64))


def test_unreachable_server_is_unavailable() -> None:
    with (
        Client("http://127.0.0.1:9", timeout=2) as client,
        pytest.raises(errors.Unavailable, match=r"127\.0\.0\.1:9"),
    ):
        client.embed_text("x")


def test_importing_the_client_does_not_load_the_model_stack() -> None:
    code = (
        "import sys, pixembed; pixembed.Client; pixembed.AsyncClient; "
        "print(sorted(m for m in ('torch', 'open_clip', 'fastapi', 'faiss') if m in sys.modules))"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": src}
    )
    assert out.stdout.strip() == "[]"


def test_urls_are_sent_as_urls_and_refusals_keep_their_class(api: Client) -> None:
    # The server refuses loopback URLs; the refusal comes back as the precise subclass, by its code.
    with pytest.raises(errors.UrlRefused, match=r"127\.0\.0\.1"):
        api.embed("http://127.0.0.1:1/cat.jpg")


def test_error_bodies_map_to_classes_by_code_then_status() -> None:
    from pixembed.wire import error_from_body

    overloaded = error_from_body({"error": "overloaded", "message": "queue full"}, 503, "3")
    assert isinstance(overloaded, errors.Overloaded) and overloaded.retry_after_s == 3.0
    limited = error_from_body({"error": "rate_limited", "message": "slow down"}, 429, None)
    assert isinstance(limited, errors.RateLimited) and limited.message == "slow down"
    assert type(error_from_body({"error": "forbidden", "message": "m"}, 403)) is errors.Forbidden
    # An unknown code (another service's, or a route's own) falls back to the status's class.
    assert type(error_from_body({"error": "im_a_teapot", "message": "m"}, 418)) is errors.PixembedError
    assert type(error_from_body({"error": "teapot", "message": "m"}, 404)) is errors.NotFound
    assert error_from_body("<html>bad gateway</html>", 502).message.startswith("HTTP 502")
