"""Roboflow Inference's CLIP routes (``/clip/embed_image``, ``embed_text``, ``compare``) for inference-sdk.

Images arrive as ``{"type": "base64" | "url", "value": ...}``; the key as ``api_key`` in the body or query;
errors as ``{"message": ...}``, which the SDK quotes in its exceptions.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pixembed.api.auth import body_or_query_key
from pixembed.api.compat.shapes import compat_router, retry_headers, status_of
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.errors import InvalidRequest, PixembedError, UnknownModel
from pixembed.runtime.model import ClipModel, Vectors
from pixembed.runtime.pool import ModelPool
from pixembed.services.compare import compare
from pixembed.services.embedding import embed_all_images, embed_texts
from pixembed.services.inputs import ImageSource

SERVICE = "Roboflow"

# Roboflow's documented CLIP versions (``clip_version_id``, inference's CLIP_VERSION_ID) and the open_clip
# model each one is, all with OpenAI's weights. A version answers where the server serves that model (by
# name) or names the version as an alias of a served model (models file); others are a 400.
CLIP_VERSIONS = {
    "RN50": "RN50",
    "RN101": "RN101",
    "RN50x4": "RN50x4",
    "RN50x16": "RN50x16",
    "RN50x64": "RN50x64",
    "ViT-B-16": "ViT-B-16",
    "ViT-B-32": "ViT-B-32",
    "ViT-L-14": "ViT-L-14",
    "ViT-L-14-336px": "ViT-L-14-336",
}


class RoboflowError(BaseModel):
    """Roboflow's error body."""

    message: str


class RoboflowImage(BaseModel):
    """Roboflow's image reference; pixembed takes the ``base64`` and ``url`` types."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(description="'base64' or 'url' ('numpy' and 'pil' are pickles, refused)")
    value: str

    def to_source(self) -> ImageSource:
        """The service-layer source, or a 400 for types that would unpickle client data."""
        if self.type == "url":
            return ImageSource("url", self.value, self.value)
        if self.type == "base64":
            return ImageSource("base64", self.value)
        raise InvalidRequest(f"image type {self.type!r} is not accepted here: send 'base64' or 'url'")


class RoboflowClipRequest(BaseModel):
    """Fields every Roboflow CLIP request may carry; ``clip_version_id`` picks a served model (none: the
    default)."""

    model_config = ConfigDict(extra="ignore")

    api_key: str | None = None
    clip_version_id: str | None = None


class RoboflowEmbedImageRequest(RoboflowClipRequest):
    """One image or a list."""

    image: RoboflowImage | list[RoboflowImage]


class RoboflowEmbedTextRequest(RoboflowClipRequest):
    """One string or a list."""

    text: str | list[str]


PromptItem = RoboflowImage | str


class RoboflowCompareRequest(RoboflowClipRequest):
    """A subject against prompts; a dict of prompts answers a dict of similarities under the same keys."""

    subject: RoboflowImage | str
    subject_type: Literal["image", "text"] = "image"
    prompt: PromptItem | list[PromptItem] | dict[str, PromptItem]
    prompt_type: Literal["image", "text"] = "text"

    @field_validator("prompt", mode="before")
    @classmethod
    def one_image_object_is_one_prompt(cls, value: object) -> object:
        """inference-sdk sends a single image prompt as a bare ``{"type", "value"}`` object.

        Left to the union, such an object also fits ``dict[str, str]`` (two named text prompts) and pydantic
        picks that; an object with exactly those two keys is one image, as Roboflow's own server reads it.
        """
        if isinstance(value, dict) and set(value) == {"type", "value"}:
            return RoboflowImage.model_validate(value)
        return value


class RoboflowEmbeddingResponse(BaseModel):
    """One vector per input, and the seconds the call took."""

    frame_id: int | None = None
    time: float
    embeddings: list[list[float]]


class RoboflowCompareResponse(BaseModel):
    """Cosine similarity per prompt, in prompt order, or keyed like the prompts dict."""

    frame_id: int | None = None
    time: float
    similarity: list[float] | dict[str, float]


def render_error(error: PixembedError) -> JSONResponse:
    """A pixembed error as Roboflow's inference server answers it."""
    status = status_of(error)
    return JSONResponse({"message": error.message}, status_code=status, headers=retry_headers(error))


router = compat_router(
    SERVICE, render_error, body_or_query_key(SERVICE, "api_key"), RoboflowError, prefix="/clip"
)


async def clip_model(models: ModelPool, version: str | None) -> ClipModel:
    """The served model a ``clip_version_id`` names: a served name or alias, or the open_clip model of
    one of Roboflow's documented versions; ``UnknownModel`` (Roboflow's 400) otherwise."""
    if version is None:
        return await models.get_async(None)
    known = CLIP_VERSIONS.get(version)
    names = [version] + ([known, f"{known}/openai"] if known is not None else [])
    served = next((models.find(name) for name in names if models.find(name) is not None), None)
    if served is None:
        raise UnknownModel.of(version, models.names, "clip_version_id")
    return await models.get_async(served)


def _image(item: PromptItem) -> ImageSource:
    return item.to_source() if isinstance(item, RoboflowImage) else ImageSource.from_text(item)


def _text(item: PromptItem, what: str) -> str:
    if not isinstance(item, str):
        raise InvalidRequest(f"{what} is an image object, but its type says text")
    return item


async def _timed_embeddings(
    models: ModelPool, version: str | None, embed: Callable[[ClipModel], Awaitable[Vectors]]
) -> RoboflowEmbeddingResponse:
    """Roboflow's embedding answer: ``embed``'s vectors from the model ``version`` names, and the seconds
    taken (model lookup included, as Roboflow's server counts them)."""
    started = time.perf_counter()
    vectors = await embed(await clip_model(models, version))
    return RoboflowEmbeddingResponse(time=time.perf_counter() - started, embeddings=vectors.tolist())


@router.post("/embed_image", response_model=RoboflowEmbeddingResponse)
async def roboflow_embed_image(
    body: RoboflowEmbedImageRequest,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> RoboflowEmbeddingResponse:
    """CLIP vectors for one or more images."""
    images = body.image if isinstance(body.image, list) else [body.image]
    sources = [image.to_source() for image in images]
    return await _timed_embeddings(
        models, body.clip_version_id, lambda model: embed_all_images(model, sources, settings)
    )


@router.post("/embed_text", response_model=RoboflowEmbeddingResponse)
async def roboflow_embed_text(
    body: RoboflowEmbedTextRequest,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> RoboflowEmbeddingResponse:
    """CLIP vectors for one or more strings."""
    texts = [body.text] if isinstance(body.text, str) else body.text
    return await _timed_embeddings(
        models, body.clip_version_id, lambda model: embed_texts(model, texts, settings)
    )


@router.post("/compare", response_model=RoboflowCompareResponse)
async def roboflow_compare(
    body: RoboflowCompareRequest,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> RoboflowCompareResponse:
    """Cosine similarity of the subject with each prompt."""
    started = time.perf_counter()
    model = await clip_model(models, body.clip_version_id)
    subject = _image(body.subject) if body.subject_type == "image" else _text(body.subject, "subject")
    if isinstance(body.prompt, dict):
        keys: list[str] | None = list(body.prompt)
        items = list(body.prompt.values())
    else:
        keys = None
        items = body.prompt if isinstance(body.prompt, list) else [body.prompt]
    if body.prompt_type == "image":
        result = await compare(model, subject, [_image(p) for p in items], settings)
    else:
        prompts = [_text(p, f"prompt {i}") for i, p in enumerate(items)]
        result = await compare(model, subject, prompts, settings)
    similarity: list[float] | dict[str, float] = result.similarities
    if keys is not None:
        similarity = dict(zip(keys, result.similarities, strict=True))
    return RoboflowCompareResponse(time=time.perf_counter() - started, similarity=similarity)
