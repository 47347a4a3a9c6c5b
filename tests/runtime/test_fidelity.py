"""Full-size ViT-B/32 through pixembed matches open_clip's own forward pass (random weights, fixed seed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from pixembed.runtime.loading import load_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def random_vitb32(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """Random ViT-B/32 weights written as an open_clip state dict, and the reference module."""
    torch.manual_seed(1234)
    reference = open_clip.create_model("ViT-B-32").eval()
    path = tmp_path_factory.mktemp("weights") / "vit-b-32-random.pt"
    torch.save(reference.state_dict(), path)
    return path, reference


def _photos(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(7)
    images = []
    for i in range(n):
        h, w = int(rng.integers(120, 500)), int(rng.integers(120, 500))
        base = rng.integers(0, 255, (1, 1, 3))
        ramp = np.linspace(0, 1, w)[None, :, None] * rng.integers(0, 255, (1, 1, 3))
        noise = rng.normal(0, 30 if i % 2 else 5, (h, w, 3))
        pixels = np.clip(base * 0.5 + ramp * 0.5 + noise, 0, 255).astype(np.uint8)
        images.append(Image.fromarray(pixels))
    return images


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def test_vectors_match_open_clip_reference(random_vitb32: tuple[Path, torch.nn.Module]) -> None:
    path, reference = random_vitb32
    model = load_model("ViT-B-32", weights=path)
    assert model.info.dimensions == 512
    _, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32")
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    images = _photos(6)
    texts = ["a photo of a dog", "a red circle", "", "x" * 500]

    with torch.no_grad():
        ref_img = reference.encode_image(torch.stack([preprocess(im) for im in images])).numpy()
        ref_txt = reference.encode_text(tokenizer(texts)).numpy()
    ours_img = model.embed_images(images)
    ours_txt = model.embed_texts(texts)

    assert _cosines(ours_img, ref_img).min() >= 0.9999
    assert _cosines(ours_txt, ref_txt).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(ours_img, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours_txt, axis=1), 1.0, atol=1e-5)


def test_same_bytes_give_the_same_vector(random_vitb32: tuple[Path, torch.nn.Module]) -> None:
    model = load_model("ViT-B-32", weights=random_vitb32[0])
    image = _photos(1)[0]
    first = model.embed_images([image])
    second = model.embed_images([image.copy()])
    assert np.abs(first - second).max() <= 1e-6
