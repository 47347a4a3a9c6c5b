"""Write an ONNX model folder the way immich's exporter does, from an open_clip module (for tests)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import open_clip
import torch


def write_immich_folder(module: Any, folder: Path, context_length: int, image_size: int) -> Path:
    """immich's layout: static batch 1, int32 token ids over the whole context, normalised outputs, a
    Hugging Face CLIP tokenizer saved with ``save_pretrained`` (``<|startoftext|>`` spelling), no
    pixembed.json."""
    from transformers import AutoTokenizer

    (folder / "visual").mkdir(parents=True)
    (folder / "textual").mkdir()
    # As immich does: AutoTokenizer.from_pretrained(...).save_pretrained(textual/), here from local files.
    source = folder / "hf-vocab"
    source.mkdir()
    _vocab_files(source)
    (source / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CLIPTokenizer"}))
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(folder / "textual")
    for file in source.iterdir():
        file.unlink()
    source.rmdir()

    class Image(torch.nn.Module):
        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return module.encode_image(image, normalize=True)  # type: ignore[no-any-return]

    class Text(torch.nn.Module):
        def forward(self, text: torch.Tensor) -> torch.Tensor:
            return module.encode_text(text, normalize=True)  # type: ignore[no-any-return]

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.backends.mha.set_fastpath_enabled(False)
        pixels = torch.randn(1, 3, image_size, image_size)
        tokens = torch.ones(1, context_length, dtype=torch.int32)
        for tower, example, name, sub in (
            (Image(), pixels, "image", "visual"),
            (Text(), tokens, "text", "textual"),
        ):
            torch.onnx.export(
                tower,
                (example,),
                str(folder / sub / "model.onnx"),
                input_names=[name],
                output_names=["embedding"],
                opset_version=17,
                dynamo=False,
            )
        torch.backends.mha.set_fastpath_enabled(True)
    preprocess = dict(open_clip.get_model_preprocess_cfg(module))
    preprocess["size"] = [image_size, image_size]
    (folder / "visual" / "preprocess_cfg.json").write_text(json.dumps(preprocess))
    config = {
        "embed_dim": 0,
        "vision_cfg": {"image_size": image_size},
        "text_cfg": {"context_length": context_length},
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _vocab_files(folder: Path) -> tuple[Path, Path]:
    """open_clip's BPE vocabulary as the vocab.json + merges.txt pair transformers reads."""
    tokenizer = open_clip.tokenizer.SimpleTokenizer()
    renamed = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {renamed.get(token, token): index for token, index in tokenizer.encoder.items()}
    merges = sorted(tokenizer.bpe_ranks, key=tokenizer.bpe_ranks.__getitem__)
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    vocab_file.write_text(json.dumps(vocab))
    merges_file.write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    return vocab_file, merges_file
