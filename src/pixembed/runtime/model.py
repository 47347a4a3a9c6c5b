"""A loaded CLIP model: preprocessing, both towers, L2-normalised float32 vectors out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from pixembed.imaging.aspect import crop_extreme_aspect

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ModelInfo:
    """What every embedding response reports about the model that made it."""

    name: str
    dimensions: int
    image_size: int
    context_length: int
    logit_scale: float
    precision: str
    device: str


class ClipModel:
    """A CLIP model and its reference preprocessing; safe to call from several threads."""

    def __init__(
        self,
        module: Any,
        preprocess: Callable[[Image.Image], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
        *,
        name: str,
        precision: str = "fp32",
        device: str = "cpu",
        batch_size: int = 32,
    ) -> None:
        self.module = module.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self._device = torch.device(device)
        self._dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        # One forward pass at a time: torch already spreads one pass over all intra-op threads, and two
        # interleaved passes would only fight for the same cores and memory bandwidth.
        self._lock = threading.Lock()
        with torch.inference_mode():
            dimensions = int(self.module.encode_text(self.tokenizer(["a"]).to(self._device)).shape[-1])
        visual_size = getattr(self.module.visual, "image_size", 224)
        self.info = ModelInfo(
            name=name,
            dimensions=dimensions,
            image_size=int(visual_size[0] if isinstance(visual_size, tuple | list) else visual_size),
            context_length=int(getattr(self.module, "context_length", 77)),
            logit_scale=float(self.module.logit_scale.exp().item()),
            precision=precision,
            device=str(self._device),
        )

    def embed_images(self, images: Sequence[Image.Image]) -> Vectors:
        """Embed RGB images with the reference preprocessing; rows are unit vectors."""
        if not images:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        chunks = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            batch = torch.stack([self.preprocess(crop_extreme_aspect(img)) for img in chunk])
            chunks.append(self.encode_image_tensor(batch))
        return np.concatenate(chunks)

    def encode_image_tensor(self, pixels: torch.Tensor) -> Vectors:
        """Embed an already preprocessed (N, 3, H, W) batch."""
        with self._lock, torch.inference_mode():
            features = self.module.encode_image(pixels.to(self._device, self._dtype))
        return _normalise(features)

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        """Embed texts with the model's tokenizer (truncated to its context length); rows are unit vectors."""
        if not texts:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[start : start + self.batch_size])).to(self._device)
            with self._lock, torch.inference_mode():
                chunks.append(_normalise(self.module.encode_text(tokens)))
        return np.concatenate(chunks)


def _normalise(features: torch.Tensor) -> Vectors:
    # Normalise in float32 whatever the compute precision, so that norms are 1 to float32 rounding.
    out = features.float().cpu().numpy().astype(np.float32, copy=False)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    unit: Vectors = (out / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return unit
