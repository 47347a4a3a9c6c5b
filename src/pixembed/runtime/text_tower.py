"""The text tower without the padding: prompts are ~5-20 tokens, the context is 77.

CLIP's text transformer is causal and pools at the end-of-text token (``argmax`` pooling: EOT has the
highest token id), so no position after a batch's last EOT can change any output. Running only
``max(EOT position) + 1`` positions gives the same vectors for a fraction of the work. open_clip's
``CLIP.encode_text`` always runs all 77 positions (it adds the full positional embedding and mask), so this
repeats its few lines with both sliced; tests/runtime/test_fidelity.py checks it against open_clip's own
forward on full-size ViT-B/32 weights.
"""

from __future__ import annotations

from typing import Any

import open_clip
import torch
from open_clip.transformer import text_global_pool


def can_trim(module: Any) -> bool:
    """Whether ``module`` is an open_clip ``CLIP`` with a causal text tower pooled at EOT (argmax)."""
    return (
        type(module) is open_clip.CLIP
        and module.text_pool_type == "argmax"
        and module.attn_mask is not None
        and getattr(module, "cls_emb", None) is None
    )


def encode_text_trimmed(module: Any, tokens: torch.Tensor) -> torch.Tensor:
    """``module.encode_text(tokens)`` (unnormalised), computed over the positions up to the last EOT."""
    length = int(tokens.argmax(dim=-1).max()) + 1
    return encode_text_prefix(module, tokens[:, :length])


def encode_text_prefix(module: Any, text: torch.Tensor) -> torch.Tensor:
    """``module.encode_text`` over token ids cut to ``text.shape[1]`` positions (which must hold every EOT);
    also what the ONNX export traces, with that length as a dynamic axis."""
    length = text.shape[1]
    cast_dtype = module.transformer.get_cast_dtype()
    x = module.token_embedding(text).to(cast_dtype)
    x = x + module.positional_embedding[:length].to(cast_dtype)
    x = module.transformer(x, attn_mask=module.attn_mask[:length, :length])
    x = module.ln_final(x)
    x = text_global_pool(x, text, module.text_pool_type)
    if isinstance(module.text_projection, torch.nn.Linear):
        x = module.text_projection(x)
    elif module.text_projection is not None:
        x = x @ module.text_projection
    features: torch.Tensor = x
    return features
