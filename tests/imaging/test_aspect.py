"""Extreme aspect ratios are cut around the centre before CLIP's resize, without changing the vector."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixembed.imaging.aspect import crop_extreme_aspect
from pixembed.runtime.model import ClipModel


@pytest.mark.parametrize(
    ("size", "expected"),
    [((100, 100), (100, 100)), ((400, 100), (400, 100)), ((1000, 100), (400, 100)),
     ((1, 50_000), (1, 4)), ((30, 3000), (30, 120))],
)  # fmt: skip
def test_the_long_side_is_cut_to_four_short_sides(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert crop_extreme_aspect(Image.new("RGB", size)).size == expected


def test_the_central_pixels_are_kept() -> None:
    pixels = np.arange(3000, dtype=np.uint8).reshape(1, 3000) % 251
    image = Image.fromarray(np.repeat(pixels, 10, axis=0))  # 3000 x 10
    cropped = np.asarray(crop_extreme_aspect(image))
    assert cropped.shape == (10, 40)
    assert np.array_equal(cropped, np.asarray(image)[:, 1480:1520])


@pytest.mark.parametrize("size", [(2400, 60), (48, 3000)])
def test_the_vector_matches_the_uncut_reference(tiny_model: ClipModel, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))
    reference = tiny_model.encode_pixels(tiny_model.preprocess.batch([image]))[0]
    vector = tiny_model.embed_images([image])[0]
    assert float(np.dot(vector, reference)) > 0.999
