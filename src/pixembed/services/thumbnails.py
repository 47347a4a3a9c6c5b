"""Keep a thumbnail for each stored item that came from an image, and forget it with the item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio
from PIL import Image

from pixembed.config import Settings
from pixembed.imaging.thumbnail import THUMBNAIL_MEDIA_TYPE, make_thumbnail
from pixembed.store.thumbnails import ThumbnailStore, thumbnails_location


def open_thumbnails(settings: Settings) -> ThumbnailStore:
    """The thumbnail store that goes with the settings' vector store."""
    return ThumbnailStore(thumbnails_location(settings.store_location, settings.data_dir))


def _save(
    store: ThumbnailStore, collection: str, images: Mapping[str, Image.Image], without: Sequence[str]
) -> None:
    store.put_many(
        collection,
        ((item_id, make_thumbnail(image)) for item_id, image in images.items()),
        THUMBNAIL_MEDIA_TYPE,
    )
    # An item re-written as a bare vector must not keep the picture of what it replaced.
    store.delete(collection, list(without))


async def save_thumbnails(
    store: ThumbnailStore | None,
    collection: str,
    images: Mapping[str, Image.Image],
    without: Sequence[str] = (),
) -> None:
    """Thumbnail ``images`` (by item id) off the event loop, and drop those of the ``without`` ids."""
    if store is None or (not images and not without):
        return
    await anyio.to_thread.run_sync(_save, store, collection, images, without)
