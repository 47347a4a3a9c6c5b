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
from pixembed.runtime.batcher import Batcher
from pixembed.runtime.precision import DTYPES
from pixembed.runtime.text_cache import TextCache
from pixembed.runtime.text_tower import can_trim, encode_text_trimmed

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
        batch_wait_ms: float = 2.0,
        max_queue_items: int = 512,
        text_cache_size: int = 4096,
    ) -> None:
        self.module = module.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self._device = torch.device(device)
        self._dtype = DTYPES[precision]
        # One forward pass at a time: torch already spreads one pass over all intra-op threads, and two
        # interleaved passes would only fight for the same cores and memory bandwidth.
        self._lock = threading.Lock()
        self.image_batcher, self.text_batcher = (
            Batcher(
                forward,
                tower=tower,
                max_items=batch_size,
                max_wait_s=batch_wait_ms / 1000,
                max_queue=max_queue_items,
            )
            for forward, tower in ((self._forward_images, "image"), (self._forward_texts, "text"))
        )
        self.text_cache = TextCache(text_cache_size)
        self._trim_text = can_trim(self.module)
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
        """Embed RGB images with the reference preprocessing; rows are unit vectors.

        Preprocessing runs in the calling thread; the forward pass is shared with concurrent callers.
        """
        if not images:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        chunks = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            batch = torch.stack([self.preprocess(crop_extreme_aspect(img)) for img in chunk])
            chunks.append(self.image_batcher.submit(batch))
        return np.concatenate(chunks)

    def embed_crops(self, image: Image.Image, boxes: Sequence[tuple[int, int, int, int]]) -> Vectors:
        """Embed the ``(x1, y1, x2, y2)`` boxes of one image, as ``embed_images`` would embed the crops.

        Each crop is preprocessed as soon as it is cut, so only one full-size crop exists at a time
        (256 full-size boxes of a large image would otherwise be that many copies of it).
        """
        if not boxes:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        chunks = []
        for start in range(0, len(boxes), self.batch_size):
            part = boxes[start : start + self.batch_size]
            pixels = [self.preprocess(crop_extreme_aspect(image.crop(box))) for box in part]
            chunks.append(self.image_batcher.submit(torch.stack(pixels)))
        return np.concatenate(chunks)

    def encode_image_tensor(self, pixels: torch.Tensor) -> Vectors:
        """Embed an already preprocessed (N, 3, H, W) batch."""
        if len(pixels) == 0:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        return self.image_batcher.submit(pixels)

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        """Embed texts with the model's tokenizer (truncated to its context length); rows are unit vectors.

        Prompts seen recently come from an LRU cache; the rest share forward passes with concurrent callers.
        """
        if not texts:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        found = self.text_cache.get_many(texts)
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        for start in range(0, len(missing), self.batch_size):
            part = missing[start : start + self.batch_size]
            vectors = self.text_batcher.submit(self.tokenizer(part))
            found.update(zip(part, vectors, strict=True))
            self.text_cache.put_many(zip(part, vectors, strict=True))
        return np.stack([found[text] for text in texts])

    def _forward_images(self, pixels: torch.Tensor) -> Vectors:
        with self._lock, torch.inference_mode():
            features = self.module.encode_image(pixels.to(self._device, self._dtype))
        return _normalise(features)

    def _forward_texts(self, tokens: torch.Tensor) -> Vectors:
        with self._lock, torch.inference_mode():
            if self._trim_text:
                features = encode_text_trimmed(self.module, tokens.to(self._device))
            else:
                features = self.module.encode_text(tokens.to(self._device))
        return _normalise(features)


def _normalise(features: torch.Tensor) -> Vectors:
    # Normalise in float32 whatever the compute precision, so that norms are 1 to float32 rounding.
    out = features.float().cpu().numpy().astype(np.float32, copy=False)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    unit: Vectors = (out / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return unit
