"""``CollectionService``: the server's collections, with their thumbnails, behind one object.

It owns the vector store and the thumbnail store (opened once when the server starts, closed when it stops)
and is the one place where their blocking calls are sent to a worker thread: every method is async and
safe to await from the event loop. The HTTP routes call one method each and map what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from pixembed.runtime.pool import ModelPool
from pixembed.services.analysis import DuplicateMatch, check_duplicate
from pixembed.services.collections import (
    AddedItem,
    NewItem,
    Query,
    RegionOptions,
    add_items,
    collection_model,
    create_collection,
    search_in,
)
from pixembed.services.inputs import ImageSource
from pixembed.services.threads import in_thread
from pixembed.services.thumbnails import thumbnail_of
from pixembed.store import CollectionInfo, Match, Record, VectorStore, parse_filter
from pixembed.store.state import ThumbnailState

__all__ = ["AddedItems", "CollectionInfo", "CollectionService", "Found", "Match", "Record"]


@dataclass(frozen=True)
class AddedItems:
    """The collection written to, and what happened to each item."""

    info: CollectionInfo
    items: list[AddedItem]


@dataclass(frozen=True)
class Found:
    """The collection searched, and its matches, best first."""

    info: CollectionInfo
    matches: list[Match]


class CollectionService:
    """Create, list, read, change and search collections; thumbnails follow their items."""

    def __init__(
        self, store: VectorStore, thumbnails: ThumbnailState, models: ModelPool, settings: Settings
    ) -> None:
        self.store = store
        self.thumbnails = thumbnails
        self.models = models
        self.settings = settings

    async def create(self, name: str, requested: str | None = None) -> CollectionInfo:
        """A new collection for the vectors of the served model ``requested`` (None: the default)."""
        model = await self.models.get_async(requested)
        return await in_thread(create_collection, self.store, model, name)

    async def model_for(self, name: str, requested: str | None = None) -> ClipModel:
        """The served model that made collection ``name``'s vectors (a collection keeps its model, whatever
        the server's default); ``requested``, if given, must name it (``collection_model``)."""
        return await collection_model(self.models, await self.get(name), requested)

    async def list_collections(self) -> list[CollectionInfo]:
        """Every collection with its count."""
        return await in_thread(self.store.list_collections)

    async def get(self, name: str) -> CollectionInfo:
        """One collection; ``NotFound`` if there is none of that name."""
        return await in_thread(self.store.get_collection, name)

    async def delete(self, name: str) -> None:
        """Drop a collection, its items and their thumbnails."""
        await in_thread(self.store.delete_collection, name)
        await in_thread(self.thumbnails.delete_collection, name)

    async def add(
        self,
        name: str,
        items: Sequence[NewItem],
        *,
        requested: str | None = None,
        regions: RegionOptions | None = None,
    ) -> AddedItems:
        """Embed ``items`` with the collection's own model and store them (answered once durable);
        ``requested``, if given, must name that model."""
        info = await self.get(name)
        model = await collection_model(self.models, info, requested)
        added = await add_items(
            self.store, model, info, items, self.settings, self.thumbnails, regions=regions
        )
        return AddedItems(info, added)

    async def item(self, name: str, item_id: str) -> Record:
        """One stored item; ``NotFound`` names a missing collection or item."""
        return await in_thread(self.store.get, name, item_id)

    async def delete_item(self, name: str, item_id: str) -> None:
        """Delete one item and its thumbnail; ``NotFound`` if it does not exist."""
        if await in_thread(self.store.delete, name, [item_id]) == 0:
            await self.item(name, item_id)  # raises the NotFound with its message
        await in_thread(self.thumbnails.delete, name, [item_id])

    async def thumbnail(self, name: str, item_id: str) -> tuple[bytes, str]:
        """(bytes, media type) of an item's thumbnail; ``NotFound`` for an item without one."""
        return await in_thread(thumbnail_of, self.thumbnails, self.store, name, item_id)

    async def search(
        self,
        name: str,
        query: Query,
        top_k: int,
        where: dict[str, Any] | None = None,
        requested: str | None = None,
    ) -> Found:
        """The ``top_k`` items closest to ``query`` among those passing the metadata filter ``where``; a
        text or image query is embedded by the collection's own model."""
        condition = parse_filter(where)
        info = await self.get(name)
        matches = await search_in(
            self.store, self.models, info, query, top_k, condition, self.settings, requested
        )
        return Found(info, matches)

    async def check_duplicate(
        self,
        name: str,
        image: ImageSource,
        similarity_threshold: float | None = None,
        hash_threshold: int | None = None,
        requested: str | None = None,
    ) -> list[DuplicateMatch]:
        """Stored items that ``image`` duplicates, by cosine and (with a hash threshold) by pHash."""
        model = await self.model_for(name, requested)
        return await check_duplicate(
            self.store, model, name, image, self.settings, similarity_threshold, hash_threshold
        )

    async def answers(self) -> None:
        """Return once the store answers a read; raise whatever it raises when it does not."""
        await self.list_collections()
