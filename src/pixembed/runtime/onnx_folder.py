"""ONNX model folders: immich's published layout and pixembed's own export (the same plus pixembed.json).

```
FOLDER/config.json                  open_clip's model config (embed_dim, vision_cfg, text_cfg)
FOLDER/visual/model.onnx            image tower: "image" (N, 3, S, S) float32 -> features
FOLDER/visual/preprocess_cfg.json   size, mean, std, interpolation, resize_mode
FOLDER/textual/model.onnx           text tower: token ids (N, context) -> features (none: image-only)
FOLDER/textual/tokenizer.json       Hugging Face tokenizers file (CLIP BPE)
FOLDER/pixembed.json                pixembed's export only: name, logit scale, whether the text graph
                                    takes trimmed token batches, text_tower false for image-only models
```
Reading one needs neither torch nor open_clip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixembed.errors import WeightsUnavailable
from pixembed.imaging.preprocess import Preprocess
from pixembed.runtime.tokenizer import SHIPPED_TOKENIZER, ClipTokenizer

# CLIP's learned temperature saturates at 100 in every released checkpoint; immich's folders do not record it.
DEFAULT_LOGIT_SCALE = 100.0


def is_onnx_folder(path: Path) -> bool:
    """Whether ``path`` holds both towers as ONNX in the layout above (or the image tower of an image-only
    model, which pixembed.json marks ``"text_tower": false``)."""
    if not (path / "visual" / "model.onnx").is_file():
        return False
    return (path / "textual" / "model.onnx").is_file() or not _text_tower(path)


def _text_tower(path: Path) -> bool:
    try:
        return bool(_json(path / "pixembed.json").get("text_tower", True))
    except ValueError:
        return True


@dataclass(frozen=True)
class OnnxFolder:
    """What a folder says about its model: files, preprocessing, tokenizer, and pixembed's extras."""

    path: Path
    name: str
    preprocess: Preprocess
    context_length: int
    logit_scale: float
    text_trimmed: bool
    text_tower: bool = True
    """False for an image-only backbone: no textual/ graph, no tokenizer."""

    @property
    def visual(self) -> Path:
        """The image tower's graph."""
        return self.path / "visual" / "model.onnx"

    @property
    def textual(self) -> Path:
        """The text tower's graph."""
        return self.path / "textual" / "model.onnx"

    def tokenizer(self) -> ClipTokenizer:
        """The folder's tokenizer (pixembed's shipped CLIP tokenizer where it has none)."""
        own = self.path / "textual" / "tokenizer.json"
        return ClipTokenizer(own if own.is_file() else SHIPPED_TOKENIZER, self.context_length)


def read_onnx_folder(path: Path, name: str | None = None) -> OnnxFolder:
    """Read a folder's configuration; raises ``WeightsUnavailable`` saying what is missing or wrong."""
    if not is_onnx_folder(path):
        raise WeightsUnavailable(
            f"{path} is not an ONNX model folder: it needs visual/model.onnx and textual/model.onnx "
            "(immich's layout, or a folder pixembed exported)"
        )
    try:
        config = _json(path / "config.json")
        extras = _json(path / "pixembed.json")
        preprocess_cfg = _json(path / "visual" / "preprocess_cfg.json")
        if not preprocess_cfg:
            preprocess_cfg = {"size": config.get("vision_cfg", {}).get("image_size", 224)}
        preprocess = Preprocess.from_config(preprocess_cfg)
    except (ValueError, TypeError, AttributeError) as exc:
        raise WeightsUnavailable(f"cannot read the ONNX model folder {path}: {exc}") from exc
    context = extras.get("context_length") or config.get("text_cfg", {}).get("context_length", 77)
    return OnnxFolder(
        path=path,
        name=name or str(extras.get("name") or path.name),
        preprocess=preprocess,
        context_length=int(context),
        logit_scale=float(extras.get("logit_scale", DEFAULT_LOGIT_SCALE)),
        text_trimmed=bool(extras.get("text_trimmed", False)),
        text_tower=bool(extras.get("text_tower", True)),
    )


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    loaded = json.loads(path.read_text())
    if not isinstance(loaded, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return loaded
