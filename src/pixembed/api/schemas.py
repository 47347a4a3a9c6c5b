"""Request bodies of the native /v1 routes, as pydantic models (they also drive OpenAPI); the response
bodies are in ``pixembed.wire``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pixembed.errors import InvalidRequest
from pixembed.services.inputs import ImageSource


class ImageObject(BaseModel):
    """An image given by URL, base64 or data URI; ``type``/``value`` is the Roboflow-style spelling."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    base64: str | None = None
    data: str | None = Field(default=None, description="a data URI or base64")
    type: Literal["url", "base64"] | None = None
    value: str | None = None
    name: str | None = Field(default=None, description="echoed back as the item's filename")

    @model_validator(mode="after")
    def _exactly_one(self) -> ImageObject:
        given = [v for v in (self.url, self.base64, self.data, self.value) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of url, base64, data, or type+value")
        if self.value is not None and self.type is None:
            raise ValueError("value needs a type: 'url' or 'base64'")
        return self

    def to_source(self) -> ImageSource:
        """The service-layer source for this image."""
        if self.url is not None or self.type == "url":
            return ImageSource("url", str(self.url or self.value), self.name or self.url or self.value)
        return ImageSource("base64", str(self.base64 or self.data or self.value), self.name)


ImageRef = str | ImageObject

MODEL_DOC = "a served model's name or alias (GET /v1/models lists them); default: the server's default model"
COLLECTION_MODEL_DOC = "if given, must name the collection's own model (it keeps the model it was made with)"


def to_source(ref: ImageRef) -> ImageSource:
    """A string is a URL, a data URI or base64; an object says which."""
    if isinstance(ref, str):
        if not ref.strip():
            raise InvalidRequest("an image string is empty: give a URL, a data URI or base64")
        return ImageSource.from_text(ref)
    return ref.to_source()


class EmbedRequest(BaseModel):
    """JSON form of POST /v1/embed: ``image`` for one, ``images`` for a batch."""

    model_config = ConfigDict(extra="forbid")

    image: ImageRef | None = None
    images: list[ImageRef] | None = None
    model: str | None = Field(default=None, description=MODEL_DOC)


class TextEmbedRequest(BaseModel):
    """POST /v1/embed/text: one string or a list."""

    model_config = ConfigDict(extra="forbid")

    text: str | list[str]
    model: str | None = Field(default=None, description=MODEL_DOC)


class CompareRequest(BaseModel):
    """POST /v1/compare: a subject against prompts, each side images or texts."""

    model_config = ConfigDict(extra="forbid")

    subject: ImageRef
    subject_type: Literal["image", "text"] = "image"
    prompts: str | list[ImageRef]
    prompt_type: Literal["text", "image"] = "text"
    model: str | None = Field(default=None, description=MODEL_DOC)


class SearchRequest(BaseModel):
    """JSON form of POST /v1/embed/search: an image or text query over a list of images."""

    model_config = ConfigDict(extra="forbid")

    query: ImageRef | None = None
    query_text: str | None = None
    dataset: list[ImageRef]
    top_k: int = Field(default=5, ge=1, le=10_000)
    model: str | None = Field(default=None, description=MODEL_DOC)
