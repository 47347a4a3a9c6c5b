"""Request bodies of the /v1/collections routes (their answers are in ``pixembed.wire``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pixembed.api.schemas import COLLECTION_MODEL_DOC, MODEL_DOC, ImageRef


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
    """POST /v1/collections/{name}/items as JSON; ``model`` (if given) must match the collection's."""

    model_config = ConfigDict(extra="forbid")

    items: list[ItemIn]
    model: str | None = Field(default=None, description=COLLECTION_MODEL_DOC)
    regions: bool = Field(
        default=False, description='store each detected region as a child item "<id>#<n>" (parent_id, box)'
    )
    region_classes: list[str] | str = Field(default="fashion", description="texts, or a label set name")
    region_top_k: int = Field(default=10, ge=1, le=50)


class SearchCollection(BaseModel):
    """POST /v1/collections/{name}/search: one of text, image, vector or id, with top_k and a filter."""

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
    top_k: int = Field(default=10, ge=1, le=1000)
    model: str | None = Field(default=None, description=COLLECTION_MODEL_DOC)
    filter: dict[str, Any] | None = Field(
        default=None, description='e.g. {"colour": "red", "size": {"in": ["S", "M"]}, "price": {"lt": 50}}'
    )
