"""Precision fast paths: chosen from the hardware, proven against fp32 at load time, fp32 when they fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from fastapi.testclient import TestClient

from pixembed.api import create_app
from pixembed.config import Settings
from pixembed.errors import InvalidRequest
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.runtime.precision import check_images, check_texts, choose_precision, cpu_flags, select
from tests.runtime.pictures import cosines, photos


def test_auto_picks_fp16_on_cuda_and_bf16_only_where_the_cpu_has_native_bf16() -> None:
    assert choose_precision("auto", "cuda") == "fp16"
    native_bf16 = bool({"amx_bf16", "avx512_bf16"} & cpu_flags())
    assert choose_precision("auto", "cpu") == ("bf16" if native_bf16 else "fp32")
    assert choose_precision("int8", "cpu") == "int8"


def test_unknown_precision_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequest, match="auto, fp32, bf16, fp16, int8"):
        load_model("pixembed-tiny", precision="fp8")


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_fast_paths_serve_vectors_within_0999_of_fp32(tiny_model: ClipModel, precision: str) -> None:
    fast = load_model("pixembed-tiny", precision=precision)
    assert fast.info.precision == precision
    images, texts = photos(4) + check_images(), check_texts()
    assert cosines(fast.embed_images(images), tiny_model.embed_images(images)).min() >= 0.999
    assert cosines(fast.embed_texts(texts), tiny_model.embed_texts(texts)).min() >= 0.999
    np.testing.assert_allclose(np.linalg.norm(fast.embed_images(images), axis=1), 1.0, atol=1e-5)


def test_a_fast_path_that_misses_the_bar_falls_back_to_fp32_and_says_why(tiny_model: ClipModel) -> None:
    chosen = select(
        tiny_model.module, "bf16", "cpu", tiny_model.preprocess, tiny_model.tokenizer, min_cosine=1.01
    )
    assert chosen.precision == "fp32"
    assert chosen.module is tiny_model.module
    assert chosen.fallback_reason is not None and "differ from fp32" in chosen.fallback_reason


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_fast_paths_match_open_clip_on_full_size_vitb32(
    random_vitb32: tuple[Path, torch.nn.Module], precision: str
) -> None:
    path, reference = random_vitb32
    model = load_model("ViT-B-32", weights=path, precision=precision)
    assert model.info.precision == precision
    _, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32")
    images = photos(2)  # few: bf16 is emulated, and slow, on CPUs without native bf16
    with torch.inference_mode():
        ref = reference.encode_image(torch.stack([preprocess(im) for im in images])).numpy()
        ref_txt = reference.encode_text(open_clip.get_tokenizer("ViT-B-32")(check_texts())).numpy()
    assert cosines(model.embed_images(images), ref).min() >= 0.999
    assert cosines(model.embed_texts(check_texts()), ref_txt).min() >= 0.999


def test_models_route_reports_the_precision_in_use(settings: Settings) -> None:
    with TestClient(create_app(settings, load_model("pixembed-tiny", precision="bf16"))) as client:
        loaded = client.get("/v1/models").json()["loaded"]
    assert (loaded["model"], loaded["precision"], loaded["device"]) == ("pixembed-tiny", "bf16", "cpu")
