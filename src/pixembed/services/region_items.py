"""An image's detected regions as child items of a collection, and searching by a region of a query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt
from PIL import Image

from pixembed.config import Settings
from pixembed.imaging.thumbnail import thumbnail_copy
from pixembed.runtime.detection import Detector
from pixembed.runtime.model import ClipModel
from pixembed.services.detection import MAX_TOP_K, DetectClass, detections_at_server_threshold
from pixembed.services.inputs import ImageSource, load_image
from pixembed.services.regions import check_boxes, embed_image_regions
from pixembed.store import Record

Vector = npt.NDArray[np.float32]


def child_id(parent_id: str, index: int) -> str:
    """The id of a parent's ``index``-th region: ``"<parent id>#<index>"``."""
    return f"{parent_id}#{index}"


def stale_child_ids(parent_id: str, kept: int) -> list[str]:
    """Ids a parent's earlier, larger set of regions may have left behind."""
    return [child_id(parent_id, i) for i in range(kept, MAX_TOP_K)]


@dataclass(frozen=True)
class RegionItem:
    """A region stored as a child item, and its crop of the parent image (for the child's thumbnail)."""

    record: Record
    crop: Image.Image


async def region_items(
    model: ClipModel,
    detector: Detector,
    parent_id: str,
    source: ImageSource,
    metadata: dict[str, Any],
    classes: Sequence[DetectClass],
    settings: Settings,
    *,
    top_k: int = 10,
) -> list[RegionItem]:
    """An item per region found: the parent's metadata with ``parent_id``, ``box``, ``label``, ``score``."""
    image = await load_image(source, settings)
    detections = await detections_at_server_threshold(detector, image, classes, settings, top_k=top_k)
    if not detections:
        return []
    boxes = [d.box for d in detections]
    regions = await embed_image_regions(model, image, boxes, settings)
    # Each child keeps a thumbnail-sized crop only (for its thumbnail), made off the event loop.
    crops = await anyio.to_thread.run_sync(lambda: [thumbnail_copy(image.crop(r.box)) for r in regions])
    return [
        RegionItem(
            Record(
                child_id(parent_id, index),
                region.vector,
                {
                    **metadata,
                    "parent_id": parent_id,
                    "box": list(region.box),
                    "label": detection.label,
                    "score": detection.score,
                },
            ),
            crop,
        )
        for index, (region, detection, crop) in enumerate(zip(regions, detections, crops, strict=True))
    ]


async def embed_query_region(
    model: ClipModel, source: ImageSource, box: Sequence[int], settings: Settings
) -> Vector:
    """The vector of one box of a query image (a 400 if the box does not fit the image)."""
    image = await load_image(source, settings)
    (checked,) = check_boxes([box], image.width, image.height)
    vectors = await anyio.to_thread.run_sync(model.embed_crops, image, [checked])
    vector: Vector = vectors[0]
    return vector
