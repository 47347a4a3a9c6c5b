"""The padding-free text tower gives open_clip's own text vectors (causal mask + EOT pooling)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.runtime.text_tower import can_trim, encode_text_trimmed


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_trimmed_text_tower_matches_open_clip_for_short_empty_and_overlong_prompts(
    tiny_model: ClipModel, runtime: str
) -> None:
    module = load_model("pixembed-tiny", runtime="torch").session.module  # type: ignore[attr-defined]
    served = tiny_model if runtime == "onnx" else load_model("pixembed-tiny", runtime="torch")
    assert served.info.runtime == runtime
    assert can_trim(module)
    texts = ["a red circle", "", "an orange star on a plain blue background", "word " * 200]
    tokens = torch.from_numpy(served.tokenizer(texts))
    with torch.inference_mode():
        full = module.encode_text(tokens).numpy()
        trimmed = encode_text_trimmed(module, tokens).numpy()
        short = encode_text_trimmed(module, tokens[:2]).numpy()
    np.testing.assert_allclose(trimmed, full, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(short, full[:2], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        served.embed_texts(texts), full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-5
    )
