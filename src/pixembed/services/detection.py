"""Detect objects of given classes in one image: boxes, labels, scores, and an annotated picture."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from PIL import Image

from pixembed.config import Settings
from pixembed.errors import InvalidRequest
from pixembed.runtime.detection import ClassQuery, Detector
from pixembed.services.annotate import annotate
from pixembed.services.embedding import check_texts
from pixembed.services.inputs import ImageSource, load_image
from pixembed.services.labelsets import FASHION, LabelSet

LABEL_SETS: dict[str, LabelSet] = {FASHION.name: FASHION}
MAX_TOP_K = 50
MAX_CLASSES = 100


@dataclass(frozen=True)
class DetectClass:
    """A class asked for: what the detector looks for, and the id a client sees (label-set id or index)."""

    query: ClassQuery
    class_id: int


@dataclass(frozen=True)
class Detection:
    """One detection in pixels of the (EXIF-rotated) image.

    ``area_ratio`` is the box's share of the image's area; ``center_distance_ratio`` the distance from the
    box's centre to the image's centre divided by half the image's diagonal (0 at the centre, 1 in a corner).
    """

    box: tuple[int, int, int, int]
    label: str
    class_id: int
    score: float
    area_ratio: float
    center_distance_ratio: float


@dataclass(frozen=True)
class DetectionResult:
    """All detections, best first, with the image's size, the detector's name and the annotated PNG."""

    width: int
    height: int
    detector: str
    detections: list[Detection]
    annotated_png: bytes | None = None


def label_set(name: str) -> LabelSet:
    """A named label set; a 400 lists the known names."""
    found = LABEL_SETS.get(name.strip().lower())
    if found is None:
        raise InvalidRequest(f"unknown label set {name!r}; known label sets: {', '.join(LABEL_SETS)}")
    return found


def text_prompts(text: str) -> tuple[str, ...]:
    """A small prompt ensemble for a free-text class: the text itself and CLIP's usual template."""
    bare = text.strip()
    article = (
        ""
        if bare.lower().startswith(("a ", "an ", "the "))
        else ("an " if bare[:1].lower() in "aeiou" else "a ")
    )
    return (bare, f"{article}{bare}", f"a photo of {article}{bare}")


def classes_from_texts(texts: Sequence[str], settings: Settings) -> list[DetectClass]:
    """Classes named by free texts; ids are their positions in the list."""
    if not texts:
        raise InvalidRequest("no classes given: send a list of texts, or a label set name such as 'fashion'")
    if len(texts) > MAX_CLASSES:
        raise InvalidRequest(f"{len(texts)} classes in one request; the limit is {MAX_CLASSES}")
    check_texts(texts, settings)
    for index, text in enumerate(texts):
        if not text.strip():
            raise InvalidRequest(f"class {index} is an empty text")
    return [DetectClass(ClassQuery(t.strip(), text_prompts(t)), i) for i, t in enumerate(texts)]


def classes_from_label_set(labels: LabelSet, ids: Sequence[int] | None = None) -> list[DetectClass]:
    """Classes of a label set (all, or those with ``ids``); ids are the set's own."""
    chosen = labels.subset(list(ids)) if ids else list(labels.labels)
    return [DetectClass(ClassQuery(label.name, (label.prompt, label.name)), label.id) for label in chosen]


def resolve_classes(classes: str | Sequence[str], settings: Settings) -> list[DetectClass]:
    """A label set's name, or a list of texts."""
    if isinstance(classes, str):
        return classes_from_label_set(label_set(classes))
    return classes_from_texts(classes, settings)


def check_detect_args(top_k: int, threshold: float | None) -> None:
    """Refuse a ``top_k`` outside 1-50 and a threshold outside [0, 1]."""
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidRequest(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    if threshold is not None and not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise InvalidRequest(f"threshold must be between 0 and 1, got {threshold}")


def detect_in_image(
    detector: Detector,
    image: Image.Image,
    classes: Sequence[DetectClass],
    *,
    top_k: int = 10,
    threshold: float | None = None,
    annotate_image: bool = False,
) -> DetectionResult:
    """Run the detector on a decoded image (blocking: call it from a worker thread)."""
    check_detect_args(top_k, threshold)
    limit = detector.default_threshold if threshold is None else threshold
    raw = detector.detect(image, [c.query for c in classes], threshold=limit, top_k=top_k)
    width, height = image.size
    half_diagonal = math.hypot(width, height) / 2
    found = []
    for item in raw:
        x1, y1 = max(0, round(item.box[0])), max(0, round(item.box[1]))
        x2, y2 = min(width, round(item.box[2])), min(height, round(item.box[3]))
        if x2 <= x1 or y2 <= y1:
            continue
        chosen = classes[item.class_index]
        centre = math.hypot((x1 + x2) / 2 - width / 2, (y1 + y2) / 2 - height / 2)
        found.append(
            Detection(
                (x1, y1, x2, y2),
                chosen.query.name,
                chosen.class_id,
                round(item.score, 6),
                round((x2 - x1) * (y2 - y1) / (width * height), 6),
                round(centre / half_diagonal, 6),
            )
        )
    png = None
    if annotate_image:
        captions = [f"{d.label} {d.score:.2f}" for d in found]
        png = annotate(image, [d.box for d in found], captions, [d.class_id for d in found])
    return DetectionResult(width, height, detector.name, found, png)


async def detect(
    detector: Detector,
    source: ImageSource,
    classes: Sequence[DetectClass],
    settings: Settings,
    *,
    top_k: int = 10,
    threshold: float | None = None,
    annotate_image: bool = False,
) -> DetectionResult:
    """Load the image and detect the classes in it, off the event loop."""
    check_detect_args(top_k, threshold)
    threshold = settings.detect_threshold if threshold is None else threshold
    image = await load_image(source, settings)
    return await anyio.to_thread.run_sync(
        lambda: detect_in_image(
            detector, image, classes, top_k=top_k, threshold=threshold, annotate_image=annotate_image
        )
    )


async def detections_at_server_threshold(
    detector: Detector,
    image: Image.Image,
    classes: Sequence[DetectClass],
    settings: Settings,
    *,
    top_k: int = 10,
) -> list[Detection]:
    """The detections in a decoded image at ``PIXEMBED_DETECT_THRESHOLD``, best first, found off the event
    loop (the regions of an image a collection stores or a search embeds)."""
    found = await anyio.to_thread.run_sync(
        lambda: detect_in_image(detector, image, classes, top_k=top_k, threshold=settings.detect_threshold)
    )
    return found.detections
