"""Answers of the /v1/collections routes."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pixembed.wire.base import WireModel
from pixembed.wire.errors import ErrorBody
from pixembed.wire.values import Float32Array


class CollectionOut(WireModel):
    """A collection: its model, dimensions and item count."""

    name: str
    model: str
    dimensions: int
    count: int


class CollectionList(WireModel):
    """Every collection."""

    data: list[CollectionOut]


class AddedOut(WireModel):
    """The id an item was stored under, or its error."""

    index: int
    id: str | None = None
    error: ErrorBody | None = None
    regions: list[str] | None = Field(default=None, description="ids of the region items stored with it")


class AddItemsOut(WireModel):
    """How many items were written, and each item's outcome."""

    collection: str
    model: str
    dimensions: int
    written: int
    data: list[AddedOut]

    @property
    def ids(self) -> list[str | None]:
        """The stored id of each item in the order sent (None where it failed)."""
        return [item.id for item in self.data]


class ItemOut(WireModel):
    """A stored item; ``vector`` only when asked for."""

    id: str
    metadata: dict[str, Any]
    vector: Float32Array | None = None


class MatchOut(WireModel):
    """A search hit: id, cosine similarity, metadata."""

    id: str
    score: float
    metadata: dict[str, Any]


class SearchCollectionOut(WireModel):
    """Hits, best first."""

    collection: str
    model: str
    dimensions: int
    results: list[MatchOut]
