"""Request bodies of POST /v1/detect and POST /v1/embed/regions (their answers are in ``pixembed.wire``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from pixembed.api.schemas import MODEL_DOC, ImageRef

BoxIn = Annotated[list[int], Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] in pixels")]


class DetectRequest(BaseModel):
    """POST /v1/detect: classes as texts or a label set's name ("fashion")."""

    model_config = ConfigDict(extra="forbid")

    image: ImageRef
    classes: list[str] | str = Field(description='texts, or a label set name such as "fashion"')
    top_k: int = Field(default=10, description="1 to 50")
    threshold: float | None = Field(
        default=None, description="0 to 1; default: the detector's calibrated one"
    )
    return_image: bool = False
    model: str | None = Field(
        default=None, description=f"{MODEL_DOC}; the CLIP model of clip-regions (OWLv2 uses its own)"
    )


class RegionsRequest(BaseModel):
    """POST /v1/embed/regions: boxes, or none to detect them (classes from ``labels`` or ``label_set``)."""

    model_config = ConfigDict(extra="forbid")

    image: ImageRef
    boxes: list[BoxIn] | None = None
    label_set: str | None = Field(default=None, description='tags from a named label set, e.g. "fashion"')
    labels: list[str] | None = Field(default=None, description="tags from these texts instead")
    texts: list[str] | None = Field(default=None, description="texts to score every region against")
    top_k: int = Field(default=10, description="how many regions to detect when no boxes are given (1-50)")
    model: str | None = Field(default=None, description=MODEL_DOC)
