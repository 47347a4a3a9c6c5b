"""A loaded CLIP model: pixembed's preprocessing and tokenizer, a runtime session, batching and caching."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import numpy as np
from PIL import Image

from pixembed.errors import NoTextTower
from pixembed.imaging.aspect import crop_extreme_aspect
from pixembed.imaging.preprocess import Pixels, Preprocess
from pixembed.runtime.batcher import Batcher
from pixembed.runtime.session import ModelSession, Tokens, Vectors
from pixembed.runtime.text_cache import TextCache
from pixembed.runtime.tokenizer import TextTokenizer

__all__ = ["ClipModel", "ModelInfo", "Vectors"]


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
    runtime: str = "onnx"
    min_cosine: float | None = None
    """The load-time check of a fast precision against fp32 (None where fp32 itself serves)."""
    text_tower: bool = True
    """False for an image-only backbone (EfficientNet, other timm models): no text, no zero-shot."""


class ClipModel:
    """A CLIP model (or an image-only backbone: ``tokenizer`` None) served through one session; safe to call
    from many threads and from async code."""

    def __init__(
        self,
        session: ModelSession,
        preprocess: Preprocess,
        tokenizer: TextTokenizer | None,
        *,
        name: str,
        logit_scale: float = 100.0,
        min_cosine: float | None = None,
        batch_size: int = 32,
        batch_wait_ms: float = 2.0,
        max_queue_items: int = 512,
        text_cache_size: int = 4096,
    ) -> None:
        self.session = session
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.image_batcher, self.text_batcher = (
            Batcher(
                forward,
                tower=tower,
                max_items=batch_size,
                max_wait_s=batch_wait_ms / 1000,
                max_queue=max_queue_items,
            )
            for forward, tower in ((session.encode_images, "image"), (session.encode_tokens, "text"))
        )
        self.text_cache = TextCache(text_cache_size)
        probe = np.zeros((1, 3, preprocess.size, preprocess.size), dtype=np.float32)
        dimensions = int(session.encode_images(probe).shape[-1])
        served = session.info
        self.info = ModelInfo(
            name=name,
            dimensions=dimensions,
            image_size=preprocess.size,
            context_length=tokenizer.context_length if tokenizer is not None else 0,
            logit_scale=logit_scale,
            precision=served.precision,
            device=served.device,
            runtime=served.runtime,
            min_cosine=min_cosine,
            text_tower=tokenizer is not None,
        )

    def tokenize(self, texts: Sequence[str]) -> Tokens:
        """Token ids for ``texts``; ``NoTextTower`` for an image-only model."""
        if self.tokenizer is None:
            raise NoTextTower.of(self.info.name)
        return self.tokenizer(texts)

    def _pixels(self, images: Sequence[object]) -> list[Pixels]:
        chunks = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            chunks.append(np.stack([self.preprocess(crop_extreme_aspect(img)) for img in chunk]))  # type: ignore[arg-type]
        return chunks

    def embed_images(self, images: Sequence[object]) -> Vectors:
        """Embed RGB PIL images with the reference preprocessing; rows are unit vectors (blocking).

        Preprocessing runs in the calling thread; the forward pass is shared with concurrent callers.
        """
        if not images:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        return np.concatenate([self.image_batcher.submit(chunk) for chunk in self._pixels(images)])

    async def embed_images_async(self, images: Sequence[object]) -> Vectors:
        """``embed_images`` for async callers: preprocessing in a worker thread, then the forward awaited
        without holding one."""
        if not images:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        chunks = await anyio.to_thread.run_sync(self._pixels, images)
        return np.concatenate([await self.image_batcher.submit_async(chunk) for chunk in chunks])

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
            chunks.append(self.image_batcher.submit(np.stack(pixels)))
        return np.concatenate(chunks)

    def encode_pixels(self, pixels: Pixels) -> Vectors:
        """Embed an already preprocessed (N, 3, H, W) batch."""
        if len(pixels) == 0:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        return self.image_batcher.submit(pixels)

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        """Embed texts with the model's tokenizer (truncated to its context length); rows are unit vectors.

        Prompts seen recently come from an LRU cache; the rest share forward passes with concurrent callers.
        """
        found, parts = self._cached_texts(texts)
        for part in parts:
            self._remember(found, part, self.text_batcher.submit(self.tokenize(part)))
        return self._stack(found, texts)

    async def embed_texts_async(self, texts: Sequence[str]) -> Vectors:
        """``embed_texts`` for async callers: the forward is awaited without holding a worker thread."""
        found, parts = self._cached_texts(texts)
        for part in parts:
            self._remember(found, part, await self.text_batcher.submit_async(self.tokenize(part)))
        return self._stack(found, texts)

    def _cached_texts(self, texts: Sequence[str]) -> tuple[dict[str, Vectors], list[list[str]]]:
        """The cached vectors of ``texts``, and the distinct missing ones in batches of at most batch_size."""
        found = self.text_cache.get_many(texts)
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        return found, [missing[i : i + self.batch_size] for i in range(0, len(missing), self.batch_size)]

    def _remember(self, found: dict[str, Vectors], part: list[str], vectors: Vectors) -> None:
        found.update(zip(part, vectors, strict=True))
        self.text_cache.put_many(zip(part, vectors, strict=True))

    def _stack(self, found: dict[str, Vectors], texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.info.dimensions), dtype=np.float32)
        return np.stack([found[text] for text in texts])
