"""Build the ``Catalogue`` that dedup and clustering work on: from decoded images, or a stored collection.

Hashes of stored items: computed once, when the item is ingested through the API or ``pixembed index``
(with or without Ray) (``image_facts``, kept in the item's metadata under ``"image"``), because the stored
collection keeps vectors, not pixels. Items stored as bare
vectors, or before this existed, have no hashes: hash methods skip them, semantic methods still see them.
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from pixembed.errors import InvalidRequest, TooManyItems
from pixembed.imaging.decode import source_dimensions
from pixembed.runtime.model import ClipModel
from pixembed.services.dedup import Catalogue
from pixembed.services.hashing import PHASH_VIEWS, STORED_HASHES, image_hashes
from pixembed.services.inputs import ImageSource
from pixembed.store import VectorStore

FACTS_KEY = "image"
Progress = Callable[[float], None]


def image_facts(image: Image.Image, size: int | None) -> dict[str, Any]:
    """What dedup needs to know of an image later: size, file bytes, when added, its hashes (the four
    methods and pHash's two extra views)."""
    width, height = source_dimensions(image)  # not the reduced size of a draft-decoded JPEG
    return {
        "width": width,
        "height": height,
        "bytes": size,
        "added_at": time.time(),
        "hashes": image_hashes(image),
    }


def source_size(source: ImageSource) -> int | None:
    """The file size of an image as sent: its bytes, or what its base64 decodes to; None for URLs."""
    if source.kind == "bytes":
        return len(source.data)
    if source.kind == "base64" and isinstance(source.data, str):
        payload = source.data.split(",", 1)[-1].strip()
        return len(payload) * 3 // 4 - payload.count("=")
    return None


def with_facts(metadata: dict[str, Any], facts: dict[str, Any] | None) -> dict[str, Any]:
    """The caller's metadata plus the image facts; a caller's own ``"image"`` key is left as it is."""
    if facts is None or FACTS_KEY in metadata:
        return metadata
    return {**metadata, FACTS_KEY: facts}


def embed_in_batches(
    model: ClipModel, images: Sequence[Image.Image], batch_size: int, on_progress: Progress
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Vectors of ``images``, reporting progress after each batch."""
    parts = []
    for start in range(0, len(images), batch_size):
        parts.append(model.embed_images(list(images[start : start + batch_size])))
        on_progress(min(1.0, (start + batch_size) / len(images)))
    if not parts:
        return np.zeros((0, model.info.dimensions), np.float32)
    return np.concatenate(parts).astype(np.float32)


def catalogue_from_images(
    images: Sequence[Image.Image],
    names: Sequence[str | None],
    sizes: Sequence[int | None],
    ages: Sequence[float | None],
    *,
    hash_methods: Sequence[str] = (),
    model: ClipModel | None = None,
    batch_size: int = 32,
    on_progress: Progress = lambda _: None,
) -> Catalogue:
    """A catalogue of decoded images (ids "0", "1", ...): the hashes asked for (pHash with its two views),
    and vectors if a model."""
    wanted = [m for m in STORED_HASHES if m in hash_methods or ("phash" in hash_methods and m in PHASH_VIEWS)]
    hashes: dict[str, list[str | None]] = {m: [] for m in wanted}
    hash_share = 0.3 if model is not None else 1.0
    for position, image in enumerate(images):
        if wanted:
            found = image_hashes(image, wanted)
            for method, value in found.items():
                hashes[method].append(value)
        on_progress(hash_share * (position + 1) / len(images))
    vectors = None
    if model is not None:
        vectors = embed_in_batches(
            model, images, batch_size, lambda f: on_progress(hash_share + (1 - hash_share) * f)
        )
    return Catalogue(
        ids=[str(i) for i in range(len(images))],
        names=list(names),
        widths=[source_dimensions(image)[0] for image in images],
        heights=[source_dimensions(image)[1] for image in images],
        sizes=list(sizes),
        ages=list(ages),
        vectors=vectors,
        hashes=hashes,
    )


def catalogue_from_store(
    store: VectorStore, name: str, max_items: int, on_progress: Progress = lambda _: None
) -> Catalogue:
    """Every item of a stored collection, with its vector and the facts stored at ingest."""
    info = store.get_collection(name)
    if info.count == 0:
        raise InvalidRequest(f"collection {name!r} is empty: there is nothing to compare")
    if info.count > max_items:
        raise TooManyItems(
            f"collection {name!r} holds {info.count} items; one run takes at most {max_items} "
            "(PIXEMBED_MAX_DEDUP_ITEMS)"
        )
    ids: list[str] = []
    facts: list[dict[str, Any]] = []
    vectors = []
    for batch in store.scan(name, batch_size=5000):
        for record in batch:
            ids.append(record.id)
            stored = record.metadata.get(FACTS_KEY)
            facts.append(stored if isinstance(stored, dict) else {})
            vectors.append(record.vector)
        on_progress(len(ids) / max(info.count, 1))
    hashes: dict[str, list[str | None]] = {
        method: [stored_hash(f, method) for f in facts] for method in STORED_HASHES
    }
    return Catalogue(
        ids=ids,
        names=[None] * len(ids),
        widths=[_int(f.get("width")) for f in facts],
        heights=[_int(f.get("height")) for f in facts],
        sizes=[_int(f.get("bytes")) for f in facts],
        ages=[float(f["added_at"]) if isinstance(f.get("added_at"), int | float) else None for f in facts],
        vectors=np.stack(vectors).astype(np.float32),
        hashes=hashes,
    )


def stored_hash(facts: object, method: str) -> str | None:
    """A well-formed 64-bit hex hash from stored image facts, or None."""
    hashes = facts.get("hashes") if isinstance(facts, dict) else None
    value = hashes.get(method) if isinstance(hashes, dict) else None
    if isinstance(value, str) and len(value) == 16 and all(c in string.hexdigits for c in value):
        return value
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
