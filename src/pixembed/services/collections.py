"""Persistent collections: create them for a served model, add items, search them.

A collection keeps the model it was made with: its items are embedded, and its image and text queries
answered, by that model whatever the server's default (``collection_model``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt

from pixembed.config import Settings
from pixembed.errors import Conflict, InvalidRequest, PixembedError
from pixembed.runtime.detection import Detector
from pixembed.runtime.model import ClipModel
from pixembed.runtime.pool import ModelPool
from pixembed.services.catalogue import with_facts
from pixembed.services.compare import embed_subject
from pixembed.services.detection import DetectClass
from pixembed.services.embedding import ItemResult, embed_image_sources
from pixembed.services.inputs import ImageSource, check_item_count
from pixembed.services.metadata import check_metadata
from pixembed.services.region_items import RegionItem, embed_query_region, region_items, stale_child_ids
from pixembed.services.thumbnails import save_thumbnails
from pixembed.store import CollectionInfo, Filter, Match, Record, VectorStore, open_store
from pixembed.store.state import ThumbnailState

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class NewItem:
    """An item to add: an image or a ready vector, with an optional id and metadata."""

    image: ImageSource | None = None
    vector: Vector | None = None
    id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    regions: bool = False


@dataclass(frozen=True)
class RegionOptions:
    """How an item's regions become child items: the detector, the classes it looks for, how many."""

    detector: Detector
    classes: Sequence[DetectClass]
    top_k: int = 10


@dataclass(frozen=True)
class AddedItem:
    """What happened to one added item: its id, or the error that kept it out; its region items' ids."""

    index: int
    id: str | None
    error: PixembedError | None = None
    region_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Query:
    """Exactly one of: a text, an image, a vector, or a stored item's id ("more like this"); matches scoring
    below ``score_threshold`` (a cosine similarity), when given, are left out."""

    text: str | None = None
    image: ImageSource | None = None
    vector: Vector | None = None
    item_id: str | None = None
    box: Sequence[int] | None = None
    score_threshold: float | None = None


def open_collections(settings: Settings) -> VectorStore:
    """The vector store the settings name: its location, and how large a collection is searched exactly."""
    return open_store(settings.store_location, exact_max=settings.exact_max)


def check_model(info: CollectionInfo, model: ClipModel) -> None:
    """Refuse to mix vectors of two models in one collection."""
    if info.model != model.info.name:
        raise Conflict(
            f"collection {info.name!r} holds {info.dimensions}-d vectors from {info.model}; this server runs "
            f"{model.info.name} ({model.info.dimensions}-d). Restart with --model {info.model.split('/')[0]} "
            "or use another collection"
        )


async def collection_model(
    models: ModelPool, info: CollectionInfo, requested: str | None = None
) -> ClipModel:
    """The served model that made ``info``'s vectors, loaded if it is not in memory.

    ``requested`` (a request's ``model``), when given, must name that same model: ``UnknownModel`` (400)
    when it names none served, ``Conflict`` (409) when it names another; ``Conflict`` too when this server
    does not serve the collection's model at all.
    """
    chosen = models.resolve(requested) if requested is not None else None
    served = models.find(info.model)
    if served is None:
        raise Conflict(
            f"collection {info.name!r} holds {info.dimensions}-d vectors from {info.model}, which this "
            f"server does not serve (it serves {', '.join(models.names)}). Serve it too (--model "
            f"{info.model.split('/')[0]}) or use another collection"
        )
    if chosen is not None and chosen != served:
        raise Conflict(
            f"collection {info.name!r} holds vectors from {info.model}, not {requested}; "
            "leave model out to use the collection's own"
        )
    return await models.get_async(served)


async def model_of_collection(
    store: VectorStore, models: ModelPool, name: str, requested: str | None = None
) -> ClipModel:
    """``collection_model`` of the collection called ``name`` (``NotFound`` when there is none)."""
    info = await anyio.to_thread.run_sync(store.get_collection, name)
    return await collection_model(models, info, requested)


def create_collection(store: VectorStore, model: ClipModel, name: str) -> CollectionInfo:
    """A new collection for ``model``'s vectors."""
    return store.create_collection(name, model.info.name, model.info.dimensions)


async def add_items(
    store: VectorStore,
    model: ClipModel,
    info: CollectionInfo,
    items: Sequence[NewItem],
    settings: Settings,
    thumbnails: ThumbnailState | None = None,
    *,
    regions: RegionOptions | None = None,
) -> list[AddedItem]:
    """Embed the images, then write every good item in one durable batch; bad items fail alone.

    ``info`` is the collection's, already read. With a ``thumbnails`` store, each item added from an image
    also gets a small thumbnail.
    """
    name = info.name
    check_model(info, model)
    check_item_count(
        len(items), settings.max_batch_items, "items", "no items given: send at least one image or vector"
    )
    for index, item in enumerate(items):
        check_metadata(item.metadata, settings, f"item {index}")
    images = [(i, item.image) for i, item in enumerate(items) if item.image is not None]
    image_positions = [i for i, _ in images]
    embedded = []
    if images:
        embedded = await embed_image_sources(
            model, [img for _, img in images], settings, with_facts=True, keep_images=thumbnails is not None
        )
    vectors, errors, facts = _sort_results(items, image_positions, embedded)
    ids = [item.id if item.id is not None else uuid.uuid4().hex for item in items]
    # Size and perceptual hashes go with each image item, for dedup of the stored collection later.
    records = [
        Record(ids[i], vectors[i], with_facts(items[i].metadata, facts.get(i))) for i in sorted(vectors)
    ]
    children, stale = await _region_children(
        store, model, name, items, ids, sorted(vectors), regions, settings
    )
    for found in children.values():
        records += [child.record for child in found]
    if records:
        await anyio.to_thread.run_sync(store.upsert, name, records)
        pairs = zip(image_positions, embedded, strict=True)
        decoded = {ids[p]: (r.image, vectors[p]) for p, r in pairs if r.image is not None and p in vectors}
        # A region's thumbnail is its crop of the parent image.
        decoded.update(
            (child.record.id, (child.crop, child.record.vector))
            for found in children.values()
            for child in found
        )
        bare = [ids[i] for i in vectors if items[i].image is None]
        await save_thumbnails(thumbnails, name, decoded, bare + stale, store)
    return [
        AddedItem(
            i,
            ids[i] if i in vectors else None,
            errors.get(i),
            tuple(child.record.id for child in children.get(i, [])),
        )
        for i in range(len(items))
    ]


def _sort_results(
    items: Sequence[NewItem], image_positions: Sequence[int], embedded: Sequence[ItemResult]
) -> tuple[dict[int, Vector], dict[int, PixembedError], dict[int, dict[str, Any]]]:
    """Each item's vector, or its error; and the image facts of the items embedded from images."""
    vectors: dict[int, Vector] = {}
    errors: dict[int, PixembedError] = {}
    facts: dict[int, dict[str, Any]] = {}
    for position, result in zip(image_positions, embedded, strict=True):
        if result.error is not None:
            errors[position] = result.error
        elif result.vector is not None:
            vectors[position] = result.vector
            if result.facts:
                facts[position] = result.facts
    for i, item in enumerate(items):
        if item.image is None:
            if item.vector is None:
                errors[i] = InvalidRequest("an item needs an image or a vector")
            else:
                vectors[i] = item.vector
    return vectors, errors, facts


async def _region_children(
    store: VectorStore,
    model: ClipModel,
    name: str,
    items: Sequence[NewItem],
    ids: Sequence[str],
    positions: Sequence[int],
    regions: RegionOptions | None,
    settings: Settings,
) -> tuple[dict[int, list[RegionItem]], list[str]]:
    """The region items of the items that ask for them; a parent's leftover older regions are deleted,
    and their ids returned (their thumbnails go too)."""
    children: dict[int, list[RegionItem]] = {}
    stale: list[str] = []
    for i in positions:
        image = items[i].image
        if not items[i].regions or image is None:
            continue
        if regions is None:
            raise InvalidRequest("regions were asked for, but no detector is available")
        children[i] = await region_items(
            model,
            regions.detector,
            ids[i],
            image,
            items[i].metadata,
            regions.classes,
            settings,
            top_k=regions.top_k,
        )
        leftover = stale_child_ids(ids[i], len(children[i]))
        await anyio.to_thread.run_sync(store.delete, name, leftover)
        stale += leftover
    return children, stale


async def search_collection(
    store: VectorStore,
    models: ClipModel | ModelPool,
    name: str,
    query: Query,
    top_k: int,
    where: Filter | None,
    settings: Settings,
    requested: str | None = None,
) -> list[Match]:
    """The ``top_k`` stored items closest to the query, among those passing the filter.

    Given the server's ``ModelPool``, an image or text query is embedded by the collection's own model
    (``requested``, if given, must name it); a vector or an item id needs no model.
    """
    info = await anyio.to_thread.run_sync(store.get_collection, name)
    return await search_in(store, models, info, query, top_k, where, settings, requested)


async def search_in(
    store: VectorStore,
    models: ClipModel | ModelPool,
    info: CollectionInfo,
    query: Query,
    top_k: int,
    where: Filter | None,
    settings: Settings,
    requested: str | None = None,
) -> list[Match]:
    """``search_collection`` in the collection ``info`` describes (already read)."""
    name = info.name
    given = [q for q in (query.text, query.image, query.vector, query.item_id) if q is not None]
    if len(given) != 1:
        raise InvalidRequest("search with exactly one of: text, image, vector, or id (more like this)")
    if query.box is not None and query.image is None:
        raise InvalidRequest("box selects a region of the query image: send it with an image")
    model: ClipModel | None = models if isinstance(models, ClipModel) else None
    needs_model = query.text is not None or query.image is not None or requested is not None
    if isinstance(models, ModelPool) and needs_model:
        model = await collection_model(models, info, requested)
    if query.box is not None and query.image is not None:
        assert model is not None  # an image query always has one (above)
        check_model(info, model)
        vector = await embed_query_region(model, query.image, query.box, settings)
    elif query.vector is not None:
        vector = query.vector
    elif query.item_id is not None:
        vector = (await anyio.to_thread.run_sync(store.get, name, query.item_id)).vector
    else:
        assert model is not None  # a text or image query always has one (above)
        check_model(info, model)
        subject = query.text if query.text is not None else query.image
        assert subject is not None
        vector = (await embed_subject(model, subject, settings))[0]
    # "More like this" leaves out the item it starts from.
    extra = 0 if query.item_id is None else 1
    matches = await anyio.to_thread.run_sync(store.search, name, vector, top_k + extra, where)
    floor = query.score_threshold
    return [m for m in matches if m.id != query.item_id and (floor is None or m.score >= floor)][:top_k]
