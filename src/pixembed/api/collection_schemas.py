"""Request bodies of the /v1/collections routes (their answers are in ``pixembed.wire``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pixembed.api.schemas import COLLECTION_MODEL_DOC, MODEL_DOC, ImageRef, to_source
from pixembed.errors import InvalidRequest
from pixembed.services.collections import NewItem, Query


class CreateCollection(BaseModel):
    """POST /v1/collections: the name, and the served model whose vectors it holds (default: the default)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    model: str | None = Field(default=None, description=MODEL_DOC)


class ItemIn(BaseModel):
    """One item to add: ``image`` (URL, base64, data URI) or ``vector``, with optional id and metadata."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    image: ImageRef | None = None
    vector: list[float] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    regions: bool | None = Field(
        default=None, description="also store this image's regions; default: the body's"
    )


class AddItems(BaseModel):
    """POST /v1/collections/{name}/items: ``items``, or (as multipart) ``image`` files with an ``id`` and a
    ``metadata`` JSON object per image, in order (one ``metadata`` for all is fine too). ``model`` (if
    given) must match the collection's."""

    model_config = ConfigDict(extra="forbid")

    items: list[ItemIn] | None = None
    image: list[ImageRef] | None = Field(default=None, description="images, one item each (multipart)")
    id: list[str] | None = Field(default=None, description="the images' ids, in order")
    metadata: list[dict[str, Any]] | None = Field(
        default=None, description="one JSON object per image, in order, or one for all"
    )
    model: str | None = Field(default=None, description=COLLECTION_MODEL_DOC)
    regions: bool = Field(
        default=False, description='store each detected region as a child item "<id>#<n>" (parent_id, box)'
    )
    region_classes: list[str] | str = Field(default="fashion", description="texts, or a label set name")
    region_top_k: int = Field(default=10, ge=1, le=50)

    @model_validator(mode="after")
    def _items_or_images(self) -> AddItems:
        images = self.image or []
        if self.items is not None and (images or self.id or self.metadata):
            raise InvalidRequest("send 'items', or 'image' files with their 'id' and 'metadata', not both")
        if self.id and len(self.id) != len(images):
            raise InvalidRequest(
                f"{len(self.id)} 'id' fields for {len(images)} images: send one per image, in order"
            )
        if len(self.metadata or []) not in (0, 1, len(images)):
            raise InvalidRequest("send one 'metadata' JSON field per image, in order, or one for all")
        for i, item in enumerate(self.items or []):
            if (item.image is None) == (item.vector is None):
                raise InvalidRequest(f"item {i}: give exactly one of image or vector")
        return self

    def wants_regions(self) -> bool:
        """Whether any item asks for its regions to be stored too."""
        if self.items is None:
            return self.regions and bool(self.image)
        return any(self.regions if item.regions is None else item.regions for item in self.items)

    def new_items(self) -> list[NewItem]:
        """The items to add, images and vectors, in order."""
        if self.items is None:
            images, ids, metadata = self.image or [], self.id, self.metadata or []
            return [
                NewItem(
                    image=to_source(image),
                    id=ids[i] if ids else None,
                    metadata=metadata[i]
                    if len(metadata) == len(images)
                    else (metadata[0] if metadata else {}),
                    regions=self.regions,
                )
                for i, image in enumerate(images)
            ]
        return [
            NewItem(
                image=to_source(item.image) if item.image is not None else None,
                vector=np.asarray(item.vector, dtype=np.float32) if item.vector is not None else None,
                id=item.id,
                metadata=item.metadata,
                regions=self.regions if item.regions is None else item.regions,
            )
            for item in self.items
        ]


MAX_TOP_K = 1000


class SearchCollection(BaseModel):
    """POST /v1/collections/{name}/search: one of text, image, vector or id, with top_k and a filter.

    As multipart, ``image`` is a file and ``filter``, ``box`` and ``vector`` are JSON text.
    """

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    image: ImageRef | None = None
    vector: list[float] | None = None
    id: str | None = Field(default=None, description="a stored item's id: more like this")
    box: list[int] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="[x1, y1, x2, y2]: search by this region of image",
    )
    top_k: int = Field(default=10, json_schema_extra={"minimum": 1, "maximum": MAX_TOP_K})
    score_threshold: float | None = Field(
        default=None, ge=-1.0, le=1.0, description="leave out matches whose cosine similarity is below this"
    )
    model: str | None = Field(default=None, description=COLLECTION_MODEL_DOC)
    filter: dict[str, Any] | None = Field(
        default=None, description='e.g. {"colour": "red", "size": {"in": ["S", "M"]}, "price": {"lt": 50}}'
    )

    @field_validator("box", mode="before")
    @classmethod
    def _four_integers(cls, box: Any) -> Any:
        # Whole floats (1.0) count, as the client sends them; strings, bools and fractions do not.
        def whole(v: Any) -> bool:
            return type(v) is int or (type(v) is float and v.is_integer())

        if box is not None and not (isinstance(box, list) and len(box) == 4 and all(whole(v) for v in box)):
            raise InvalidRequest("box must be a JSON list of four integers [x1, y1, x2, y2]")
        return box

    @field_validator("top_k")
    @classmethod
    def _top_k_in_range(cls, top_k: int) -> int:
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidRequest(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
        return top_k

    def query(self) -> Query:
        """What to search by."""
        return Query(
            text=self.text,
            image=to_source(self.image) if self.image is not None else None,
            vector=np.asarray(self.vector, dtype=np.float32) if self.vector is not None else None,
            item_id=self.id,
            box=self.box,
            score_threshold=self.score_threshold,
        )
