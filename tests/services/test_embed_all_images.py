"""embed_all_images: a whole-or-nothing batch, used by the compatibility routes."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

from pixembed.config import Settings
from pixembed.errors import UnsupportedMediaType
from pixembed.imaging import decode_image
from pixembed.runtime.model import ClipModel
from pixembed.services.embedding import embed_all_images
from pixembed.services.inputs import ImageSource


def test_good_batch_gives_unit_rows_in_order(
    tiny_model: ClipModel, settings: Settings, shape_images: dict[str, list[bytes]]
) -> None:
    sources = [ImageSource("bytes", png, "x") for png in shape_images["a red circle"]]
    vectors = anyio.run(embed_all_images, tiny_model, sources, settings)
    assert vectors.shape == (3, tiny_model.info.dimensions)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    reference = tiny_model.embed_images([decode_image(shape_images["a red circle"][1], max_pixels=10**8)])
    np.testing.assert_allclose(vectors[1], reference[0], atol=1e-5)


def test_a_bad_image_fails_the_batch_and_is_named(
    tiny_model: ClipModel, settings: Settings, shape_images: dict[str, list[bytes]]
) -> None:
    good = ImageSource("bytes", shape_images["a red circle"][0], "good.png")
    bad = ImageSource("bytes", b"not an image", "bad.jpg")
    with pytest.raises(UnsupportedMediaType, match=r"^image 1: "):
        anyio.run(embed_all_images, tiny_model, [good, bad], settings)
    with pytest.raises(UnsupportedMediaType) as single:
        anyio.run(embed_all_images, tiny_model, [bad], settings)
    assert not single.value.message.startswith("image ")
