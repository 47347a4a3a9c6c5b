"""Answers of POST /v1/detect and POST /v1/embed/regions."""

from __future__ import annotations

from pydantic import Field

from pixembed.wire.base import ModelFields, WireModel
from pixembed.wire.values import Base64Bytes, Float32Array

Box = list[int]


class DetectionOut(WireModel):
    """One detection; ``box`` [x1, y1, x2, y2] in pixels of the EXIF-rotated original."""

    box: Box
    label: str
    class_id: int
    score: float
    area_ratio: float
    center_distance_ratio: float


class DetectResponse(WireModel):
    """Detections best first; ``image`` is the annotated PNG (base64 in JSON, bytes in Python) when asked
    for."""

    width: int
    height: int
    detector: str
    detections: list[DetectionOut]
    image: Base64Bytes | None = Field(default=None, description="the annotated PNG, base64")


class TagOut(WireModel):
    """A region's zero-shot label and its probability among the labels."""

    label: str
    score: float


class RelevanceOut(WireModel):
    """Cosine similarity of a region with one text."""

    text: str
    score: float


class RegionOut(WireModel):
    """One region: its box, unit vector, tags and relevance to each text."""

    box: Box
    vector: Float32Array
    tags: list[TagOut]
    relevance: list[RelevanceOut]


class RegionsResponse(ModelFields):
    """Every region, in box order (or detection order)."""

    regions: list[RegionOut]
