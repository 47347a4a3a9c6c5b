"""Embed given regions of one image: crop each box, embed the crops, tag them, score them against texts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import numpy as np
from PIL import Image

from pixembed.config import Settings
from pixembed.errors import ImageTooLarge, InvalidRequest
from pixembed.runtime.detection import Detector
from pixembed.runtime.model import ClipModel, Vectors
from pixembed.services.compare import softmax_at_scale
from pixembed.services.detection import DetectClass, detections_at_server_threshold
from pixembed.services.embedding import embed_texts
from pixembed.services.inputs import ImageSource, check_item_count, load_image
from pixembed.services.labelsets import Label, LabelSet

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Tag:
    """The zero-shot label of a region and its softmax probability among the label set."""

    label: Label
    score: float


@dataclass(frozen=True)
class Region:
    """One embedded box: its vector, its tag if asked for, and its cosine similarity with each text."""

    box: Box
    vector: Vectors
    tag: Tag | None
    text_scores: list[float]
    ranked_tags: tuple[Tag, ...] = ()


def check_region_pixels(boxes: Sequence[Sequence[int]], settings: Settings) -> None:
    """Refuse boxes that crop more pixels in all than ``PIXEMBED_MAX_REGION_PIXELS`` (413): each crop is
    a copy of its part of the image, so 256 full-size boxes of a 2000x2000 image are a billion pixels."""
    total = 0
    for box in boxes:
        if len(box) == 4:
            x1, y1, x2, y2 = (int(v) for v in box)
            total += max(0, x2 - x1) * max(0, y2 - y1)
    if total > settings.max_region_pixels:
        raise ImageTooLarge(
            f"the {len(boxes)} regions cover {total:,} pixels in all; the limit is "
            f"{settings.max_region_pixels:,} (PIXEMBED_MAX_REGION_PIXELS): send fewer or smaller boxes"
        )


def check_boxes(boxes: Sequence[Sequence[int]], width: int, height: int) -> list[Box]:
    """The boxes as ``(x1, y1, x2, y2)`` inside a ``width`` x ``height`` image; a 400 names a bad one."""
    checked = []
    for index, box in enumerate(boxes):
        name = f"box {index} {list(box)}"
        if len(box) != 4:
            raise InvalidRequest(f"{name}: give four pixel coordinates [x1, y1, x2, y2]")
        x1, y1, x2, y2 = (int(v) for v in box)
        if x2 <= x1 or y2 <= y1:
            raise InvalidRequest(f"{name} is empty: x2 must be greater than x1, and y2 greater than y1")
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            raise InvalidRequest(f"{name} lies outside the {width}x{height} image")
        checked.append((x1, y1, x2, y2))
    return checked


async def embed_regions(
    model: ClipModel,
    source: ImageSource,
    boxes: Sequence[Sequence[int]],
    settings: Settings,
    *,
    labels: LabelSet | None = None,
    texts: Sequence[str] = (),
) -> list[Region]:
    """Crop every box from the image and embed the crops in one batch; tag and score them on request."""
    empty = "no regions given: send at least one box [x1, y1, x2, y2]"
    check_item_count(len(boxes), settings.max_batch_items, "regions", empty)
    check_region_pixels(boxes, settings)  # before anything is fetched or decoded
    # Texts first: a bad one is refused before any image is fetched or decoded.
    text_vectors = await embed_texts(model, texts, settings) if texts else None
    image = await load_image(source, settings)
    return await embed_image_regions(model, image, boxes, settings, labels=labels, text_vectors=text_vectors)


async def embed_detected_regions(
    model: ClipModel,
    detector: Detector,
    source: ImageSource,
    classes: Sequence[DetectClass],
    settings: Settings,
    *,
    top_k: int = 10,
    labels: LabelSet | None = None,
    texts: Sequence[str] = (),
) -> list[Region]:
    """Find the regions with the detector, then embed them as ``embed_regions`` does; none found: []."""
    text_vectors = await embed_texts(model, texts, settings) if texts else None
    image = await load_image(source, settings)
    detections = await detections_at_server_threshold(detector, image, classes, settings, top_k=top_k)
    if not detections:
        return []
    boxes = [d.box for d in detections]
    return await embed_image_regions(model, image, boxes, settings, labels=labels, text_vectors=text_vectors)


async def embed_image_regions(
    model: ClipModel,
    image: Image.Image,
    boxes: Sequence[Sequence[int]],
    settings: Settings,
    *,
    labels: LabelSet | None = None,
    text_vectors: Vectors | None = None,
) -> list[Region]:
    """Embed the boxes of a decoded image; tag them with ``labels`` and score them against the texts."""
    checked = check_boxes(boxes, image.width, image.height)
    check_region_pixels(checked, settings)  # detected boxes too
    # Cut and embedded in a worker thread, one full-size crop alive at a time: never on the event loop.
    vectors = await anyio.to_thread.run_sync(model.embed_crops, image, checked)
    ranked: list[tuple[Tag, ...]] = [()] * len(checked)
    if labels is not None:
        prompt_vectors = await embed_texts(model, labels.prompts, settings)
        for row, similarities in enumerate(vectors @ prompt_vectors.T):
            probabilities = softmax_at_scale(similarities, model.info.logit_scale)
            order = np.argsort(-probabilities, kind="stable")
            ranked[row] = tuple(Tag(labels.labels[int(i)], float(probabilities[i])) for i in order)
    scores = (vectors @ text_vectors.T).tolist() if text_vectors is not None else [[] for _ in checked]
    return [
        Region(box, vector, tags[0] if tags else None, [float(s) for s in row], tags)
        for box, vector, tags, row in zip(checked, vectors, ranked, scores, strict=True)
    ]
