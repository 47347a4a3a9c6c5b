"""Full-size ViT-B/32 through pixembed matches open_clip's own forward pass (random weights, fixed seed), in
both runtimes: ONNX Runtime (exported once into the cache) and torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch

from pixembed.runtime.loading import load_model
from tests.runtime.pictures import cosines, photos

pytestmark = pytest.mark.slow
RUNTIMES = ["onnx", "torch"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_vectors_match_open_clip_reference(random_vitb32: tuple[Path, torch.nn.Module], runtime: str) -> None:
    path, reference = random_vitb32
    model = load_model("ViT-B-32", weights=path, runtime=runtime)
    assert (model.info.dimensions, model.info.runtime) == (512, runtime)
    _, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32")
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    images = photos(6)
    texts = ["a photo of a dog", "a red circle", "", "x" * 500]

    with torch.no_grad():
        ref_img = reference.encode_image(torch.stack([preprocess(im) for im in images])).numpy()
        ref_txt = reference.encode_text(tokenizer(texts)).numpy()
    ours_img = model.embed_images(images)
    ours_txt = model.embed_texts(texts)

    assert cosines(ours_img, ref_img).min() >= 0.9999
    assert cosines(ours_txt, ref_txt).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(ours_img, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours_txt, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_same_bytes_give_the_same_vector(random_vitb32: tuple[Path, torch.nn.Module], runtime: str) -> None:
    model = load_model("ViT-B-32", weights=random_vitb32[0], runtime=runtime)
    image = photos(1)[0]
    first = model.embed_images([image])
    second = model.embed_images([image.copy()])
    assert np.abs(first - second).max() <= 1e-6
