"""Embed images and texts, with per-item errors for batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt
from PIL import Image

from pixembed.config import Settings
from pixembed.errors import InvalidRequest, NoTextTower, PixembedError
from pixembed.imaging.thumbnail import thumbnail_copy
from pixembed.runtime.model import ClipModel, Vectors
from pixembed.services.inputs import ImageSource, check_item_count, load_in_groups


@dataclass(frozen=True)
class ItemResult:
    """One batch item: its vector, or the error that stopped it."""

    index: int
    name: str | None
    vector: npt.NDArray[np.float32] | None
    error: PixembedError | None = None
    # Size and perceptual hashes (services/catalogue.image_facts), when asked for with ``with_facts``.
    facts: dict[str, Any] | None = None
    # A thumbnail-sized copy of the decoded image, only when asked for (``keep_images``).
    image: Image.Image | None = None


async def embed_image_sources(
    model: ClipModel,
    sources: Sequence[ImageSource],
    settings: Settings,
    *,
    with_facts: bool = False,
    keep_images: bool = False,
) -> list[ItemResult]:
    """Embed a batch of images; a bad item fails alone, the others still get vectors.

    ``keep_images`` hands back a thumbnail-sized copy of each decoded image too, for callers that make
    thumbnails from it.
    """
    empty = "no image given: send at least one image"
    check_item_count(len(sources), settings.max_batch_items, "images", empty, " (PIXEMBED_MAX_BATCH_ITEMS)")
    vectors: dict[int, npt.NDArray[np.float32]] = {}
    failures: dict[int, PixembedError] = {}
    facts: dict[int, dict[str, Any]] = {}
    kept: dict[int, Image.Image] = {}
    async for group in load_in_groups(sources, settings, model.batch_size, min_side=draft_min_side(model)):
        failures.update(group.failures)
        indices, images = group.indices, group.images
        vectors.update(zip(indices, await model.embed_images_async(images), strict=True))
        if with_facts:
            facts.update(await anyio.to_thread.run_sync(_facts, sources, indices, images))
        if keep_images:
            copies = await anyio.to_thread.run_sync(_thumbnail_copies, images)
            kept.update(zip(indices, copies, strict=True))
        del images
    return [
        ItemResult(
            index, source.name, vectors.get(index), failures.get(index), facts.get(index), kept.get(index)
        )
        for index, source in enumerate(sources)
    ]


def _facts(
    sources: Sequence[ImageSource], indices: Sequence[int], images: Sequence[Image.Image]
) -> dict[int, dict[str, Any]]:
    from pixembed.services.catalogue import image_facts, source_size

    return {i: image_facts(image, source_size(sources[i])) for i, image in zip(indices, images, strict=True)}


def _thumbnail_copies(images: Sequence[Image.Image]) -> list[Image.Image]:
    return [thumbnail_copy(image) for image in images]


async def embed_all_images(model: ClipModel, sources: Sequence[ImageSource], settings: Settings) -> Vectors:
    """Embed a batch that succeeds whole or not at all: the first bad image fails it, named by index."""
    results = await embed_image_sources(model, sources, settings)
    for result in results:
        if result.error is not None:
            if len(results) == 1:
                raise result.error
            raise result.error.with_context(f"image {result.index}")
    return np.stack([result.vector for result in results if result.vector is not None])


def draft_min_side(model: ClipModel) -> int:
    """How small a large JPEG may be decoded (DCT-domain scaling) before the reference preprocessing.

    Twice the model's input keeps the final antialiased bicubic resize doing the real shrinking, and 448 px
    at least: at 2x a 64 px model's input, star-field photos (point details) drifted to cosine 0.9936 from
    the full decode; at >= 448 px every test photo stays >= 0.9998 (tests/imaging/test_draft_decode.py).
    """
    return max(2 * model.info.image_size, 448)


def check_texts(texts: Sequence[str], settings: Settings) -> None:
    """Refuse empty, too many or too long texts with a message that says which."""
    empty = "no text given: send a string or a non-empty list of strings"
    check_item_count(len(texts), settings.max_texts, "texts", empty)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidRequest(f"text {index} is not a string")
        if len(text) > settings.max_text_chars:
            raise InvalidRequest(
                f"text {index} has {len(text)} characters; the limit is {settings.max_text_chars}"
            )


def require_text_tower(model: ClipModel) -> None:
    """``NoTextTower`` (a 400) where ``model`` embeds images only; every service path to text passes here."""
    if not model.info.text_tower:
        raise NoTextTower.of(model.info.name)


async def embed_texts(model: ClipModel, texts: Sequence[str], settings: Settings) -> Vectors:
    """Embed texts (each truncated to the model's context length by its tokenizer)."""
    require_text_tower(model)
    check_texts(texts, settings)
    return await model.embed_texts_async(list(texts))


def embed_texts_blocking(model: ClipModel, texts: Sequence[str], settings: Settings) -> Vectors:
    """``embed_texts`` for code already running in a worker thread."""
    require_text_tower(model)
    check_texts(texts, settings)
    return model.embed_texts(list(texts))
