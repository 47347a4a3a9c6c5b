"""Decompression bombs by decoded bytes, per request and server-wide, through the real app (issue 14,
item 4): 413 past PIXEMBED_MAX_DECODED_MB, 503 + Retry-After when the server's pool stays full."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
import psutil
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pixembed.api import create_app
from pixembed.api.state import state_of
from pixembed.config import Settings
from pixembed.imaging.budget import DecodePool
from pixembed.runtime.model import ClipModel
from tests.helpers import encode
from tests.hostile import (
    float_tiff_declaring,
    png_zero_bomb,
    transparent_gif_declaring,
    webp_lossless_declaring,
)

MB = 1024 * 1024
BOMBS = {
    "webp-lossless-rgba-34-bytes.webp": webp_lossless_declaring(10_000, 10_000),
    "png-rgba-389KB.png": png_zero_bomb(10_000, 10_000),
    "png-grey16.png": png_zero_bomb(10_000, 10_000, 0, 16),
    "tiff-float.tif": float_tiff_declaring(10_000, 10_000),
    "gif-transparent.gif": transparent_gif_declaring(10_000, 10_000),
}


def _client(tiny_model: ClipModel, settings: Settings, **limits: float) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits), tiny_model))


@pytest.fixture
def default_client(tiny_model: ClipModel, settings: Settings) -> Iterator[TestClient]:
    with _client(tiny_model, settings) as client:
        yield client


def _pool(client: TestClient) -> DecodePool:
    pool: DecodePool = state_of(client.app).decode_pool
    return pool


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_each_bomb_is_413_before_it_is_decoded(default_client: TestClient, name: str) -> None:
    warm_up = encode(Image.new("RGB", (64, 64), "red"))
    assert default_client.post("/v1/embed", files={"image": ("warm.png", warm_up)}).status_code == 200
    process = psutil.Process()
    before = process.memory_info().rss
    response = default_client.post("/v1/embed", files={"image": (name, BOMBS[name])})
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["error"] == "image_too_large" and "PIXEMBED_MAX_DECODED_MB" in body["message"]
    assert process.memory_info().rss - before < 100 * MB  # each was 1-2.7 GB when decoded
    assert _pool(default_client).used == 0


def test_several_bombs_in_one_request_fail_alone(default_client: TestClient) -> None:
    files = [("image", (name, data)) for name, data in BOMBS.items()]
    files.append(("image", ("fine.png", encode(Image.new("RGB", (64, 64), "red")))))
    response = default_client.post("/v1/embed", files=files)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [item["error"]["status"] for item in data[:-1]] == [413] * len(BOMBS)
    assert len(data[-1]["embedding"]) == 128
    assert _pool(default_client).used == 0


def _picture(mode: str, side: int = 1000) -> bytes:
    ramp = np.tile(np.arange(side, dtype=np.uint8), (side, 1))
    if mode == "RGBA":
        return encode(Image.fromarray(np.dstack([ramp, ramp, ramp, 255 - ramp]), "RGBA"))
    if mode == "F":
        return encode(Image.fromarray(ramp.astype(np.float32) / 255, "F"), "TIFF")
    if mode == "I;16":
        return encode(Image.fromarray(ramp.astype(np.uint16) * 257))
    return encode(Image.fromarray(np.dstack([ramp, ramp, ramp]), "RGB"))


def test_mode_conversions_count_against_the_budget(tiny_model: ClipModel, settings: Settings) -> None:
    # A million pixels: about 6.5 MB as RGB, 20 MB and more once alpha, 16-bit or float must be converted.
    with _client(tiny_model, settings, max_decoded_mb=16) as client:
        assert client.post("/v1/embed", files={"image": ("rgb.png", _picture("RGB"))}).status_code == 200
        for mode in ("RGBA", "F", "I;16"):
            response = client.post("/v1/embed", files={"image": ("x", _picture(mode))})
            assert response.status_code == 413, (mode, response.text)
            assert "one request may use 16 MB (PIXEMBED_MAX_DECODED_MB)" in response.json()["message"]


def test_a_batch_larger_than_the_budget_is_embedded_in_turns(
    tiny_model: ClipModel, settings: Settings
) -> None:
    # Eight images that fit the 24 MB budget three at a time, never all together.
    with _client(tiny_model, settings, max_decoded_mb=24) as client:
        files = [("image", (f"{i}.png", _picture("RGB"))) for i in range(8)]
        response = client.post("/v1/embed", files=files)
        assert response.status_code == 200
        assert all("embedding" in item for item in response.json()["data"]), response.text
        assert _pool(client).used == 0


def test_a_full_server_pool_is_503_with_retry_after(tiny_model: ClipModel, settings: Settings) -> None:
    limits = {"max_decoded_mb": 32, "max_decoded_total_mb": 40, "decode_wait_s": 0.3}
    with _client(tiny_model, settings, **limits) as client:
        pool = _pool(client)
        assert pool.try_acquire(36 * MB)  # other requests hold most of the pool
        response = client.post("/v1/embed", files={"image": ("rgb.png", _picture("RGB"))})
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "overloaded" and int(response.headers["Retry-After"]) >= 1
        pool.release(36 * MB)
        assert client.post("/v1/embed", files={"image": ("rgb.png", _picture("RGB"))}).status_code == 200
        assert pool.used == 0


def test_a_posted_dedup_set_larger_than_the_budget_runs_in_turns(
    tiny_model: ClipModel, settings: Settings
) -> None:
    copies = [base64.b64encode(_picture("RGB")).decode()] * 8  # 8 x 6.5 MB against a 24 MB budget
    with _client(tiny_model, settings, max_decoded_mb=24) as client:
        response = client.post("/v1/dedup", json={"images": copies, "method": "phash"})
        assert response.status_code == 200, response.text
        assert [sorted(group["members"], key=int) for group in response.json()["groups"]] == [
            [str(i) for i in range(8)]
        ]
        assert _pool(client).used == 0
