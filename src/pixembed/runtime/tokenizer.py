"""CLIP tokenisation without torch or open_clip: Hugging Face ``tokenizers`` over CLIP's BPE vocabulary.

The BPE itself is the ``tokenizers`` library's (a tokenizer.json: the one pixembed ships, built from
open_clip's vocabulary by scripts/make_clip_tokenizer.py, or the one in an immich model folder). What is
written here is only what open_clip does around the BPE, repeated so that the ids are equal: the text
clean-up (ftfy, HTML unescaping, whitespace, lower case), start/end tokens, zero padding, and truncation
that keeps the end token last. tests/runtime/test_preprocess_tokens.py proves the ids equal open_clip's.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import ftfy
import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

Tokens = npt.NDArray[np.int64]
SHIPPED_TOKENIZER = Path(__file__).parent / "assets" / "clip-tokenizer.json"
_SOT_NAMES = ("<start_of_text>", "<|startoftext|>")
_EOT_NAMES = ("<end_of_text>", "<|endoftext|>")


def clean_text(text: str) -> str:
    """open_clip's default clean-up: fix mojibake, unescape HTML twice, collapse whitespace, lower-case."""
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).lower()


class ClipTokenizer:
    """Texts -> (N, context_length) int64 token ids, zero-padded, exactly as open_clip's tokenizer."""

    def __init__(self, path: Path = SHIPPED_TOKENIZER, context_length: int = 77) -> None:
        self._tokenizer = Tokenizer.from_file(str(path))
        # Immich's tokenizer.json files pad and truncate themselves; open_clip's rules are applied below.
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.context_length = context_length
        self.sot_id = self._special_id(_SOT_NAMES)
        self.eot_id = self._special_id(_EOT_NAMES)

    def _special_id(self, names: Sequence[str]) -> int:
        for name in names:
            found = self._tokenizer.token_to_id(name)
            if found is not None:
                return int(found)
        raise ValueError(f"tokenizer has none of the special tokens {', '.join(names)}")

    def __call__(self, texts: Sequence[str]) -> Tokens:
        """Token ids for ``texts``: start, BPE ids, end; truncated with the end token kept last."""
        encoded = self._tokenizer.encode_batch([clean_text(t) for t in texts], add_special_tokens=False)
        result = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, encoding in enumerate(encoded):
            ids = [self.sot_id, *encoding.ids, self.eot_id][: self.context_length]
            ids[-1] = self.eot_id
            result[row, : len(ids)] = ids
        return result


class TextTokenizer(Protocol):
    """What a model's tokenizer offers: texts -> (N, context_length) int64 ids."""

    context_length: int

    def __call__(self, texts: Sequence[str]) -> Tokens:
        """Token ids for ``texts``, zero-padded to ``context_length``."""
        ...
