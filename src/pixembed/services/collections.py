"""Persistent collections: create them for the loaded model, add items, search them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt

from pixembed.config import Settings
from pixembed.errors import Conflict, InvalidRequest, PixembedError, TooManyItems
from pixembed.runtime.model import ClipModel
from pixembed.services.compare import embed_subject
from pixembed.services.embedding import embed_image_sources
from pixembed.services.inputs import ImageSource
from pixembed.services.thumbnails import save_thumbnails
from pixembed.store import CollectionInfo, Filter, Match, Record, VectorStore
from pixembed.store.thumbnails import ThumbnailStore

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class NewItem:
    """An item to add: an image or a ready vector, with an optional id and metadata."""

    image: ImageSource | None = None
    vector: Vector | None = None
    id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AddedItem:
    """What happened to one added item: its id, or the error that kept it out."""

    index: int
    id: str | None
    error: PixembedError | None = None


@dataclass(frozen=True)
class Query:
    """Exactly one of: a text, an image, a vector, or a stored item's id ("more like this")."""

    text: str | None = None
    image: ImageSource | None = None
    vector: Vector | None = None
    item_id: str | None = None


def check_model(info: CollectionInfo, model: ClipModel) -> None:
    """Refuse to mix vectors of two models in one collection."""
    if info.model != model.info.name:
        raise Conflict(
            f"collection {info.name!r} holds {info.dimensions}-d vectors from {info.model}; this server runs "
            f"{model.info.name} ({model.info.dimensions}-d). Restart with --model {info.model.split('/')[0]} "
            "or use another collection"
        )


def create_collection(store: VectorStore, model: ClipModel, name: str) -> CollectionInfo:
    """A new collection for the loaded model's vectors."""
    return store.create_collection(name, model.info.name, model.info.dimensions)


async def add_items(
    store: VectorStore,
    model: ClipModel,
    name: str,
    items: Sequence[NewItem],
    settings: Settings,
    thumbnails: ThumbnailStore | None = None,
) -> list[AddedItem]:
    """Embed the images, then write every good item in one durable batch; bad items fail alone.

    With a ``thumbnails`` store, each item added from an image also gets a small thumbnail.
    """
    info = store.get_collection(name)
    check_model(info, model)
    if not items:
        raise InvalidRequest("no items given: send at least one image or vector")
    if len(items) > settings.max_batch_items:
        raise TooManyItems(f"{len(items)} items in one request; the limit is {settings.max_batch_items}")
    images = [(i, item.image) for i, item in enumerate(items) if item.image is not None]
    image_positions = [i for i, _ in images]
    sources = [img for _, img in images]
    keep = thumbnails is not None
    embedded = await embed_image_sources(model, sources, settings, keep_images=keep) if images else []
    vectors: dict[int, Vector] = {}
    errors: dict[int, PixembedError] = {}
    for position, result in zip(image_positions, embedded, strict=True):
        if result.error is not None:
            errors[position] = result.error
        elif result.vector is not None:
            vectors[position] = result.vector
    for i, item in enumerate(items):
        if item.image is None:
            if item.vector is None:
                errors[i] = InvalidRequest("an item needs an image or a vector")
            else:
                vectors[i] = item.vector
    ids = [item.id if item.id is not None else uuid.uuid4().hex for item in items]
    records = [Record(ids[i], vectors[i], items[i].metadata) for i in sorted(vectors)]
    if records:
        await anyio.to_thread.run_sync(store.upsert, name, records)
        pairs = zip(image_positions, embedded, strict=True)
        decoded = {ids[p]: r.image for p, r in pairs if r.image is not None}
        bare = [ids[i] for i in vectors if items[i].image is None]
        await save_thumbnails(thumbnails, name, decoded, bare)
    return [AddedItem(i, ids[i] if i in vectors else None, errors.get(i)) for i in range(len(items))]


async def search_collection(
    store: VectorStore,
    model: ClipModel,
    name: str,
    query: Query,
    top_k: int,
    where: Filter | None,
    settings: Settings,
) -> list[Match]:
    """The ``top_k`` stored items closest to the query, among those passing the filter."""
    info = store.get_collection(name)
    given = [q for q in (query.text, query.image, query.vector, query.item_id) if q is not None]
    if len(given) != 1:
        raise InvalidRequest("search with exactly one of: text, image, vector, or id (more like this)")
    if query.vector is not None:
        vector = query.vector
    elif query.item_id is not None:
        vector = store.get(name, query.item_id).vector
    else:
        check_model(info, model)
        subject = query.text if query.text is not None else query.image
        assert subject is not None
        vector = (await embed_subject(model, subject, settings))[0]
    if query.item_id is None:
        return await anyio.to_thread.run_sync(store.search, name, vector, top_k, where)
    # "More like this" leaves out the item it starts from.
    matches = await anyio.to_thread.run_sync(store.search, name, vector, top_k + 1, where)
    return [m for m in matches if m.id != query.item_id][:top_k]
