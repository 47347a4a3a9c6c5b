"""Write src/pixembed/runtime/assets/clip-tokenizer.json: CLIP's BPE as a Hugging Face tokenizers file.

Built from open_clip's own vocabulary file (needs pixembed[torch]); run once, the output is committed so that
the core install tokenises without open_clip. The special tokens keep open_clip's spelling
(``<start_of_text>``), so a prompt containing them is tokenised as open_clip does it.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from open_clip.tokenizer import bytes_to_unicode, default_bpe
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

# open_clip's SimpleTokenizer: 49152 - 256 - 2 merges after the header line, the same regex split.
_MERGES = 49152 - 256 - 2
_SPECIAL = ("<start_of_text>", "<end_of_text>")
_SPLIT = r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"


def build() -> Tokenizer:
    """The tokenizer, with open_clip's vocabulary order (so the ids are equal)."""
    with gzip.open(default_bpe()) as packed:
        lines = packed.read().decode("utf-8").split("\n")[1 : _MERGES + 1]
    merges = [(a, b) for a, b in (line.split() for line in lines)]
    symbols = list(bytes_to_unicode().values())
    vocab = [*symbols, *(s + "</w>" for s in symbols), *("".join(m) for m in merges), *_SPECIAL]
    bpe = models.BPE(
        vocab={token: i for i, token in enumerate(vocab)},
        merges=merges,
        continuing_subword_prefix="",
        end_of_word_suffix="</w>",
    )
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in _SPECIAL])
    return tokenizer


if __name__ == "__main__":
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path("src/pixembed/runtime/assets/clip-tokenizer.json")
    )
    build().save(str(target))
    print(f"wrote {target}")
