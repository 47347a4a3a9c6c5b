"""Large JPEGs decoded at reduced scale (DCT domain) embed like the full decode, on photographs.

The photographs are scikit-image's bundled samples, enlarged to 1 and 9+ megapixels (Lanczos, with a little
sensor-like grain) and saved as JPEG, so that the scaled decode has real work to do.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from pixembed.imaging import decode_image
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.services.embedding import draft_min_side
from tests.helpers import encode

MAX_PIXELS = 100_000_000


@pytest.fixture(scope="module")
def large_jpegs() -> list[bytes]:
    rng = np.random.default_rng(5)
    jpegs = []
    for photo in (skimage.data.astronaut(), skimage.data.coffee(), skimage.data.hubble_deep_field()):
        image = Image.fromarray(photo)
        for short_side in (1000, 2600):
            scale = short_side / min(image.size)
            big = image.resize(
                (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
            )
            grain = rng.normal(0, 4, (big.height, big.width, 3)).astype(np.float32)
            pixels = np.clip(np.asarray(big, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
            jpegs.append(encode(Image.fromarray(pixels), "JPEG", quality=90))
    return jpegs


def _min_cosine_scaled_vs_full(model: ClipModel, jpegs: list[bytes]) -> float:
    full = model.embed_images([decode_image(data, max_pixels=MAX_PIXELS) for data in jpegs])
    side = draft_min_side(model)
    scaled = model.embed_images([decode_image(data, max_pixels=MAX_PIXELS, min_side=side) for data in jpegs])
    return float((full * scaled).sum(axis=1).min())


def test_scaled_decode_shrinks_large_jpegs_but_never_below_min_side(large_jpegs: list[bytes]) -> None:
    for data in large_jpegs:
        full = Image.open(io.BytesIO(data)).size
        scaled = decode_image(data, max_pixels=MAX_PIXELS, min_side=448).size
        assert min(scaled) >= 448
        assert scaled[0] <= (full[0] + 1) // 2 and scaled[1] <= (full[1] + 1) // 2


def test_min_side_leaves_small_jpegs_and_other_formats_at_full_size() -> None:
    picture = Image.fromarray(skimage.data.chelsea())  # 451 x 300
    assert decode_image(encode(picture, "JPEG"), max_pixels=MAX_PIXELS, min_side=448).size == (451, 300)
    big_png = encode(picture.resize((1804, 1200)))
    assert decode_image(big_png, max_pixels=MAX_PIXELS, min_side=448).size == (1804, 1200)


def test_tiny_model_vectors_from_the_scaled_decode_match_the_full_decode(
    tiny_model: ClipModel, large_jpegs: list[bytes]
) -> None:
    assert _min_cosine_scaled_vs_full(tiny_model, large_jpegs) >= 0.995


@pytest.mark.slow
def test_vitb32_vectors_from_the_scaled_decode_match_the_full_decode(
    random_vitb32: tuple[Path, torch.nn.Module], large_jpegs: list[bytes]
) -> None:
    model = load_model("ViT-B-32", weights=random_vitb32[0])
    assert _min_cosine_scaled_vs_full(model, large_jpegs) >= 0.995
