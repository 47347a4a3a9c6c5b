"""Request bodies of the native /v1 routes, as pydantic models (they also drive OpenAPI); the response
bodies are in ``pixembed.wire``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from pixembed.api.inputs import ANY_FILE, Form, Upload
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


# An uploaded file is a third kind of image, for multipart bodies only (JSON can never hold one).
ImageRef = str | ImageObject | SkipJsonSchema[Upload]

MODEL_DOC = "a served model's name or alias (GET /v1/models lists them); default: the server's default model"
COLLECTION_MODEL_DOC = "if given, must name the collection's own model (it keeps the model it was made with)"


def to_source(ref: ImageRef) -> ImageSource:
    """A string is a URL, a data URI or base64; an object says which; an upload is its bytes."""
    if isinstance(ref, Upload):
        return ImageSource("bytes", ref.data, ref.filename)
    if isinstance(ref, str):
        if not ref.strip():
            raise InvalidRequest("an image string is empty: give a URL, a data URI or base64")
        return ImageSource.from_text(ref)
    return ref.to_source()


class EmbedRequest(BaseModel):
    """POST /v1/embed: ``image`` for one, ``images`` for a batch; as multipart, every file part."""

    model_config = ConfigDict(extra="forbid")

    image: Annotated[ImageRef | None, Form()] = None
    images: Annotated[list[ImageRef] | None, Form("image", "images", ANY_FILE)] = None
    model: str | None = Field(default=None, description=MODEL_DOC)

    @model_validator(mode="after")
    def _some_image(self) -> EmbedRequest:
        if self.image is None and not self.images:
            raise InvalidRequest('no image given: send "image" (one) or "images" (a list)')
        return self

    def sources(self) -> list[ImageSource]:
        """Every image, in the order sent."""
        refs = ([self.image] if self.image is not None else []) + (self.images or [])
        return [to_source(ref) for ref in refs]


class TextEmbedRequest(BaseModel):
    """POST /v1/embed/text: one string or a list."""

    model_config = ConfigDict(extra="forbid")

    text: str | list[str]
    model: str | None = Field(default=None, description=MODEL_DOC)


class CompareRequest(BaseModel):
    """POST /v1/compare: a subject against prompts, each side images or texts.

    As multipart: the subject as an ``image`` file or a ``subject_text``; prompts as ``prompts`` (or
    ``labels``) texts or ``prompt_images`` files.
    """

    model_config = ConfigDict(extra="forbid")

    subject: Annotated[ImageRef | None, Form("subject", "image")] = None
    subject_type: Literal["image", "text"] = "image"
    subject_text: str | None = Field(default=None, description="a text subject (instead of subject_type)")
    prompts: Annotated[str | list[ImageRef] | None, Form("prompts", "labels")] = None
    prompt_type: Literal["text", "image"] = "text"
    prompt_images: list[ImageRef] | None = Field(default=None, description="image prompts (multipart files)")
    model: str | None = Field(default=None, description=MODEL_DOC)

    @model_validator(mode="after")
    def _one_subject_one_kind_of_prompts(self) -> CompareRequest:
        if (self.subject is None) == (self.subject_text is None):
            raise InvalidRequest(
                "send exactly one subject: 'subject' (an image, or a text with subject_type 'text'), "
                "an 'image' file, or a 'subject_text' field"
            )
        if self.subject_type == "text" and not isinstance(self.subject, str | None):
            raise InvalidRequest("subject_type is 'text', so subject must be a string")
        if self.prompts is not None and self.prompt_images is not None:
            raise InvalidRequest("prompts must be all texts ('prompts') or all images ('prompt_images')")
        if self.prompts is None and self.prompt_images is None:
            raise InvalidRequest("no prompts given: send 'prompts' (texts or images) or 'prompt_images'")
        if self.prompt_type == "text" and self.prompt_images is None:
            given = [self.prompts] if isinstance(self.prompts, str) else self.prompts or []
            if not all(isinstance(p, str) for p in given):
                raise InvalidRequest("prompt_type is 'text', so every prompt must be a string")
        return self

    def subject_input(self) -> str | ImageSource:
        """The subject: a text, or an image."""
        if self.subject_text is not None:
            return self.subject_text
        assert self.subject is not None
        if self.subject_type == "text":
            assert isinstance(self.subject, str)
            return self.subject
        return to_source(self.subject)

    def prompt_inputs(self) -> list[str] | list[ImageSource]:
        """The prompts, all texts or all images."""
        if self.prompt_images is not None:
            return [to_source(p) for p in self.prompt_images]
        given = [self.prompts] if isinstance(self.prompts, str) else self.prompts or []
        if self.prompt_type == "text":
            return [str(p) for p in given]
        return [to_source(p) for p in given]


class SearchRequest(BaseModel):
    """POST /v1/embed/search: an image or text query over a list of images (files, URLs or base64)."""

    model_config = ConfigDict(extra="forbid")

    query: Annotated[ImageRef | None, Form("query", "query_url")] = None
    query_text: str | None = None
    dataset: Annotated[list[ImageRef], Form("dataset", "dataset_url")]
    top_k: int = Field(default=5, ge=1, le=10_000)
    model: str | None = Field(default=None, description=MODEL_DOC)

    @model_validator(mode="after")
    def _one_query(self) -> SearchRequest:
        if (self.query is None) == (self.query_text is None):
            raise InvalidRequest(
                "send exactly one query: a 'query' image, a 'query_url', "
                "or a 'query_text' for text-to-image search"
            )
        return self

    def query_input(self) -> str | ImageSource:
        """The query: a text, or an image."""
        if self.query_text is not None:
            return self.query_text
        assert self.query is not None
        return to_source(self.query)

    def dataset_sources(self) -> list[ImageSource]:
        """The dataset's images, in the order sent (files before URLs in a multipart body)."""
        return [to_source(ref) for ref in self.dataset]
