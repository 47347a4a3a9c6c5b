"""Export to ONNX in immich's folder layout, dynamic batch: an open_clip model's image and text towers, or an
image-only timm backbone's image tower (its ``pixembed.json`` then says ``"text_tower": false``).

The folder is what immich publishes (``config.json``, ``visual/model.onnx`` + ``preprocess_cfg.json``,
``textual/model.onnx`` + ``tokenizer.json``) plus ``pixembed.json``, which says what immich's files do not:
the name, the logit scale, and that the text graph takes a trimmed token batch. Unlike immich's export, the
text graph's sequence axis is dynamic too: it adds the positional embedding and causal mask for the length it
is given, so the session can cut a batch after its last end-of-text token (runtime/text_tower.py explains
why that changes no vector). Needs torch and open_clip; the result loads without either.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from pixembed.imaging.preprocess import Preprocess
from pixembed.runtime.text_tower import can_trim, encode_text_prefix
from pixembed.runtime.tokenizer import SHIPPED_TOKENIZER

OPSET = 18
FOLDER_FORMAT = 1


class _ImageTower(torch.nn.Module):
    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.module.encode_image(image)
        return features


class _TrimmedTextTower(torch.nn.Module):
    """open_clip's ``encode_text`` for tokens of any length up to the context (the batch's, not 77)."""

    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return encode_text_prefix(self.module, text)


class _FullTextTower(torch.nn.Module):
    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.module.encode_text(text)
        return features


def export_onnx(module: Any, preprocess: Preprocess, folder: Path, *, name: str) -> Path:
    """Write ``module`` (an fp32 open_clip CLIP, eval mode) as an ONNX folder; returns ``folder``.

    Written into a sibling temporary folder of this process's own and renamed, so a crash never leaves a
    half-written cache and processes exporting at once (Ray actors) do not collide: the first rename wins.
    """
    return _write_atomically(folder, lambda partial: _write_folder(module, preprocess, partial, name))


def _write_atomically(folder: Path, write: Callable[[Path], None]) -> Path:
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    try:
        partial.rename(folder)
    except OSError:  # another process finished the same export first: keep its folder
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _write_folder(module: Any, preprocess: Preprocess, partial: Path, name: str) -> None:
    (partial / "visual").mkdir(parents=True)
    (partial / "textual").mkdir()
    context_length = int(getattr(module, "context_length", 77))
    trimmed = can_trim(module)
    image = torch.zeros((2, 3, preprocess.size, preprocess.size))
    tokens = torch.zeros((2, context_length), dtype=torch.int64)
    tokens[:, 0], tokens[:, 1] = 49406, 49407
    text_tower = _TrimmedTextTower(module) if trimmed else _FullTextTower(module)
    with _quiet_export():
        _export(_ImageTower(module), image, partial / "visual" / "model.onnx", "image", {0: "batch"})
        axes = {0: "batch", 1: "sequence"} if trimmed else {0: "batch"}
        _export(text_tower, tokens, partial / "textual" / "model.onnx", "text", axes)
    config = {
        "embed_dim": int(module.text_projection.shape[-1])
        if isinstance(module.text_projection, torch.Tensor)
        else None,
        "text_cfg": {"context_length": context_length},
        "vision_cfg": {"image_size": preprocess.size},
    }
    (partial / "config.json").write_text(json.dumps(config, indent=2))
    (partial / "visual" / "preprocess_cfg.json").write_text(json.dumps(preprocess.to_config(), indent=2))
    shutil.copyfile(SHIPPED_TOKENIZER, partial / "textual" / "tokenizer.json")
    info = {
        "format": FOLDER_FORMAT,
        "name": name,
        "logit_scale": float(module.logit_scale.exp().item()),
        "text_trimmed": trimmed,
        "context_length": context_length,
    }
    (partial / "pixembed.json").write_text(json.dumps(info, indent=2))


class _PooledFeatures(torch.nn.Module):
    """A timm backbone's pooled pre-classifier vector (runtime/timm_loading.py's reference forward)."""

    def __init__(self, module: Any) -> None:
        super().__init__()
        self.module = module

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        from pixembed.runtime.timm_loading import pooled_features

        return pooled_features(self.module, image)


def export_image_onnx(module: Any, preprocess: Preprocess, folder: Path, *, name: str) -> Path:
    """Write an image-only backbone (a timm module, fp32, eval) as an ONNX folder without a text tower."""
    return _write_atomically(folder, lambda partial: _write_image_folder(module, preprocess, partial, name))


def _write_image_folder(module: Any, preprocess: Preprocess, partial: Path, name: str) -> None:
    (partial / "visual").mkdir(parents=True)
    image = torch.zeros((2, 3, preprocess.size, preprocess.size))
    with _quiet_export():
        _export(_PooledFeatures(module), image, partial / "visual" / "model.onnx", "image", {0: "batch"})
    config = {"embed_dim": int(module.num_features), "vision_cfg": {"image_size": preprocess.size}}
    (partial / "config.json").write_text(json.dumps(config, indent=2))
    (partial / "visual" / "preprocess_cfg.json").write_text(json.dumps(preprocess.to_config(), indent=2))
    info = {"format": FOLDER_FORMAT, "name": name, "text_tower": False}
    (partial / "pixembed.json").write_text(json.dumps(info, indent=2))


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """The exporter prints progress on stdout and warns about shape guards and skipped constant folds;
    none of it is the user's concern."""
    quiet = contextlib.redirect_stdout(io.StringIO())
    with warnings.catch_warnings(), quiet, torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        logging.getLogger("onnxscript").setLevel(logging.ERROR)
        yield


def _export(
    tower: torch.nn.Module, example: torch.Tensor, path: Path, input_name: str, axes: dict[int, str]
) -> None:
    dims = {i: torch.export.Dim(name, min=1) for i, name in axes.items()}
    program = torch.onnx.export(
        tower.eval(),
        (example,),
        input_names=[input_name],
        output_names=["features"],
        dynamic_shapes={"image" if input_name == "image" else "text": dims},
        opset_version=OPSET,
        dynamo=True,
        optimize=True,
        verbose=False,
    )
    assert program is not None
    program.save(str(path))
