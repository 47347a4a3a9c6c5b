"""pixembed's own preprocessing and tokenisation equal open_clip's (which serving no longer imports)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixembed.imaging.preprocess import Preprocess
from pixembed.runtime.tokenizer import ClipTokenizer
from pixembed.synthetic.shapes import CLASSES, render_shape
from tests.runtime.pictures import photos

open_clip = pytest.importorskip("open_clip")
torch = pytest.importorskip("torch")

TEXTS = [
    "a photo of a dog",
    "A Red CIRCLE!!",
    "",
    "x" * 500,
    "a photo of " * 40,
    "héllo wörld café 日本語 🐶",
    "don't &amp; won't &lt;b&gt; <end_of_text> tail",
    "  spaces\n\ttabs  and\u00a0nbsp ",
    "12345 3.14 $%^ C++ e-mail@example.com",
    "mojibake â€™ and naïve résumé",
    "It'S THE 1990's, they'LL say",
]


def _skimage_photos() -> list[Image.Image]:
    data = pytest.importorskip("skimage.data")
    names = ["astronaut", "coffee", "chelsea", "rocket", "camera", "hubble_deep_field", "retina"]
    images = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in names]
    # Odd sizes and aspect ratios, larger and smaller than the input, so every resize branch runs.
    odd = [images[0].resize((225, 224)), images[1].resize((90, 301)), images[2].crop((0, 0, 223, 61))]
    return images + odd


def _generated() -> list[Image.Image]:
    rng = np.random.default_rng(3)
    shapes = [
        render_shape(shape, colour, size=int(s), rng=rng)
        for (shape, colour), s in zip(CLASSES[::5], rng.integers(40, 400, len(CLASSES[::5])), strict=False)
    ]
    return shapes + photos(6) + [Image.new("RGB", (1, 1), (255, 0, 0)), Image.new("RGB", (5000, 3), "blue")]


@pytest.mark.parametrize("size", [224, 64])
def test_pixels_match_open_clip(size: int) -> None:
    reference = open_clip.image_transform(size, is_train=False)
    ours = Preprocess(size=size)
    for image in _skimage_photos() + _generated():
        expected = reference(image).numpy()
        got = ours(image)
        assert got.shape == expected.shape == (3, size, size)
        assert np.abs(got - expected).max() <= 1e-5, image.size


def test_squash_mode_matches_open_clip() -> None:
    reference = open_clip.image_transform(64, is_train=False, resize_mode="squash")
    ours = Preprocess(size=64, resize_mode="squash")
    for image in _generated():
        assert np.abs(ours(image) - reference(image).numpy()).max() <= 1e-5


@pytest.mark.parametrize("context_length", [77, 32])
def test_tokens_equal_open_clip(context_length: int) -> None:
    reference = open_clip.tokenizer.SimpleTokenizer(context_length=context_length)
    ours = ClipTokenizer(context_length=context_length)
    np.testing.assert_array_equal(ours(TEXTS), reference(TEXTS).numpy())


def test_tokens_of_the_shipped_tiny_model_equal_its_open_clip_tokenizer() -> None:
    from pixembed.runtime.weights import BUNDLED_MODELS

    reference = open_clip.get_tokenizer(f"local-dir:{BUNDLED_MODELS['pixembed-tiny']}")
    ours = ClipTokenizer(context_length=32)
    np.testing.assert_array_equal(ours(TEXTS), reference(TEXTS).numpy())
