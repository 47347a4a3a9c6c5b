"""Keep a thumbnail for each stored item that came from an image, and forget it with the item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio
import numpy as np
import numpy.typing as npt
from PIL import Image

from pixembed.config import Settings
from pixembed.errors import NotFound
from pixembed.imaging.thumbnail import THUMBNAIL_MEDIA_TYPE, make_thumbnail
from pixembed.store import VectorStore
from pixembed.store.state import ThumbnailState
from pixembed.store.thumbnails import ThumbnailStore, thumbnails_location

Vector = npt.NDArray[np.float32]


def open_thumbnails(settings: Settings) -> ThumbnailStore:
    """The thumbnail store that goes with the settings' vector store, or the shared state's (``--state``)."""
    return ThumbnailStore(settings.state or thumbnails_location(settings.store_location, settings.data_dir))


def _save(
    store: ThumbnailState,
    collection: str,
    images: Mapping[str, tuple[Image.Image, Vector]],
    without: Sequence[str],
    items: VectorStore | None,
) -> None:
    store.put_many(
        collection,
        [(item_id, make_thumbnail(image), vector) for item_id, (image, vector) in images.items()],
        THUMBNAIL_MEDIA_TYPE,
    )
    # An item re-written as a bare vector must not keep the picture of what it replaced.
    store.delete(collection, list(without))
    if items is None or not images:
        return
    # A delete of these items (or of their collection) may have run between their write and this one,
    # and found no thumbnail to remove yet: remove what no longer has an item. (Serving checks each
    # thumbnail against its item's vector too, so a re-created item never shows an older picture.)
    try:
        present = items.existing(collection, list(images))
    except NotFound:
        present = {}
    store.delete(collection, [item_id for item_id in images if item_id not in present])


async def save_thumbnails(
    store: ThumbnailState | None,
    collection: str,
    images: Mapping[str, tuple[Image.Image, Vector]],
    without: Sequence[str] = (),
    items: VectorStore | None = None,
) -> None:
    """Thumbnail ``images`` (item id -> (image, the item's vector)) off the event loop, and drop those of
    the ``without`` ids; with ``items`` (the vector store written first), drop any whose item is gone."""
    if store is None or (not images and not without):
        return
    await anyio.to_thread.run_sync(_save, store, collection, images, without, items)


def thumbnail_of(
    store: ThumbnailState, items: VectorStore, collection: str, item_id: str
) -> tuple[bytes, str]:
    """(bytes, media type) of a stored item's thumbnail; ``NotFound`` for a missing item, an item with no
    thumbnail, or a thumbnail made for an earlier version of the item."""
    record = items.get(collection, item_id)  # NotFound names the missing collection or item
    thumbnail = store.get(collection, item_id)
    if not thumbnail.is_of(record.vector):
        raise NotFound(f"item {item_id!r} in collection {collection!r} has no thumbnail")
    return thumbnail.data, thumbnail.media_type
