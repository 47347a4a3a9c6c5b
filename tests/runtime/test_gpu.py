"""The CUDA path: checked against the CPU's fp32 vectors like every other path; skipped without a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from pixembed.runtime.loading import load_model, onnx_cuda_available
from pixembed.runtime.model import ClipModel
from pixembed.runtime.precision import check_texts
from tests.runtime.pictures import cosines, photos


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


GPU = onnx_cuda_available() or _torch_cuda()


@pytest.mark.skipif(not GPU, reason="no CUDA device (onnxruntime-gpu or torch with CUDA)")
@pytest.mark.parametrize("precision", ["auto", "fp32"])
def test_cuda_serves_the_cpu_vectors(tiny_model: ClipModel, precision: str) -> None:
    model = load_model("pixembed-tiny", device="cuda", precision=precision)
    assert model.info.device.startswith("cuda")
    if precision == "auto" and model.info.runtime == "torch":
        assert model.info.precision == "fp16" and model.info.min_cosine is not None
    images, texts = photos(4), check_texts()
    assert cosines(model.embed_images(images), tiny_model.embed_images(images)).min() >= 0.999
    assert cosines(model.embed_texts(texts), tiny_model.embed_texts(texts)).min() >= 0.999
    np.testing.assert_allclose(np.linalg.norm(model.embed_images(images), axis=1), 1.0, atol=1e-3)


@pytest.mark.skipif(GPU, reason="a CUDA device is present")
def test_without_a_gpu_cuda_is_a_clear_error() -> None:
    from pixembed.errors import InvalidRequest, WeightsUnavailable

    with pytest.raises((InvalidRequest, WeightsUnavailable), match=r"(?i)cuda"):
        load_model("pixembed-tiny", device="cuda")
