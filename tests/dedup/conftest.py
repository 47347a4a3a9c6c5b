"""Generated shape pictures with near-duplicate copies: the ground truth of the dedup and cluster tests."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pixembed.synthetic.shapes import render_shape
from tests.helpers import encode

SHAPES = [("circle", "red"), ("square", "blue"), ("triangle", "green"), ("star", "yellow")]


def copies(image: Image.Image) -> list[bytes]:
    """The original as PNG, a JPEG at quality 40, and a PNG resized to 60%."""
    small = image.resize((image.width * 3 // 5, image.height * 3 // 5), Image.Resampling.BICUBIC)
    return [encode(image), encode(image, "JPEG", quality=40), encode(small)]


@pytest.fixture(scope="session")
def duplicate_sets() -> list[list[bytes]]:
    """For each of four different shapes: the picture and two near-duplicate copies of it."""
    rng = np.random.default_rng(7)
    return [copies(render_shape(shape, colour, size=192, rng=rng)) for shape, colour in SHAPES]


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")
