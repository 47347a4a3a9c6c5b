"""The padding-free text tower gives open_clip's own text vectors (causal mask + EOT pooling)."""

from __future__ import annotations

import numpy as np
import torch

from pixembed.runtime.model import ClipModel
from pixembed.runtime.text_tower import can_trim, encode_text_trimmed


def test_trimmed_text_tower_matches_open_clip_for_short_empty_and_overlong_prompts(
    tiny_model: ClipModel,
) -> None:
    assert can_trim(tiny_model.module)
    texts = ["a red circle", "", "an orange star on a plain blue background", "word " * 200]
    tokens = tiny_model.tokenizer(texts)
    with torch.inference_mode():
        full = tiny_model.module.encode_text(tokens).numpy()
        trimmed = encode_text_trimmed(tiny_model.module, tokens).numpy()
        short = encode_text_trimmed(tiny_model.module, tokens[:2]).numpy()
    np.testing.assert_allclose(trimmed, full, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(short, full[:2], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        tiny_model.embed_texts(texts), full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-5
    )
