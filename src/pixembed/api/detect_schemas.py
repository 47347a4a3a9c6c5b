"""Request bodies of POST /v1/detect and POST /v1/embed/regions (their answers are in ``pixembed.wire``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pixembed.api.schemas import MODEL_DOC, ImageRef
from pixembed.errors import InvalidRequest
from pixembed.services.detection import LABEL_SETS, check_detect_args, label_set
from pixembed.services.labelsets import LabelSet, label_set_from_texts

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

    @field_validator("classes", mode="before")
    @classmethod
    def _one_form_value_may_name_a_label_set(cls, classes: Any, info: ValidationInfo) -> Any:
        # A form cannot tell a list from a string: there, one value that names a label set means the set.
        form = (info.context or {}).get("form")
        if (
            form
            and isinstance(classes, list)
            and len(classes) == 1
            and classes[0].strip().lower() in LABEL_SETS
        ):
            return classes[0]
        return classes

    @model_validator(mode="after")
    def _top_k_and_threshold_in_range(self) -> DetectRequest:
        check_detect_args(self.top_k, self.threshold)
        return self


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

    @model_validator(mode="after")
    def _labels_or_label_set(self) -> RegionsRequest:
        if self.labels is not None and self.label_set is not None:
            raise InvalidRequest("give labels or label_set, not both")
        if self.boxes is None:
            check_detect_args(self.top_k, None)
        return self

    def tag_labels(self) -> LabelSet | None:
        """The labels to tag regions with: the given texts, the named set, or none."""
        if self.labels is not None:
            return label_set_from_texts(self.labels)
        return label_set(self.label_set) if self.label_set is not None else None
