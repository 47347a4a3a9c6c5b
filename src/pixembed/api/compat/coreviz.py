"""CoreViz: ``POST /api/ai/embeddings`` with an ``x-api-key`` header, errors as ``{"error", "message"}``."""

from __future__ import annotations

import re
from http import HTTPStatus

from fastapi import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pixembed.api.auth import header_key
from pixembed.api.compat.shapes import compat_router, retry_headers, status_of
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.errors import FetchFailed, InvalidRequest, PixembedError, UnsupportedMediaType
from pixembed.runtime.pool import ModelPool
from pixembed.services.embedding import embed_all_images
from pixembed.services.inputs import ImageSource

SERVICE = "CoreViz"
DEFAULT_MODEL = "default"

# CoreViz documents 422 for "image could not be processed": bytes that are not an image, or a URL
# that could not be fetched, are that case rather than pixembed's 415.
STATUS_OVERRIDES: dict[type[PixembedError], int] = {UnsupportedMediaType: 422, FetchFailed: 422}
# CoreViz's documented messages; pixembed's detail follows each, so a person can act on it.
DOCUMENTED_MESSAGES = {
    400: "Invalid image URL or missing required fields",
    422: "Unable to process the provided image",
}
# Text that can only be base64 (standard or URL-safe, padded or not, line breaks allowed). A string with a
# dot, a space or a colon and no scheme ("example.com/input.jpg") is a mistyped URL instead.
BASE64_TEXT = re.compile(r"[A-Za-z0-9+/_\-\r\n]+={0,2}\s*")


class CoreVizError(BaseModel):
    """CoreViz's error body: the HTTP reason phrase and a message."""

    error: str
    message: str


class CoreVizEmbeddingRequest(BaseModel):
    """An image URL (a data URI or bare base64 also works) and the model alias."""

    model_config = ConfigDict(extra="ignore")

    image: str = Field(min_length=1, description="URL of the image; a data URI or base64 is also accepted")
    model: str = Field(
        default=DEFAULT_MODEL, description="'default', or a served model's name or alias (GET /v1/models)"
    )


class CoreVizEmbeddingResponse(BaseModel):
    """The vector, its length, and the model alias the caller asked for."""

    embedding: list[float]
    dimensions: int
    model: str


def render_error(error: PixembedError) -> JSONResponse:
    """A pixembed error as CoreViz answers it: its documented message for a 400 or 422, then the detail."""
    status = status_of(error, STATUS_OVERRIDES)
    documented = DOCUMENTED_MESSAGES.get(status)
    message = f"{documented}: {error.message}" if documented else error.message
    body = CoreVizError(error=HTTPStatus(status).phrase, message=message)
    return JSONResponse(body.model_dump(), status_code=status, headers=retry_headers(error))


def image_source(text: str) -> ImageSource:
    """CoreViz's ``image``: a URL, or (pixembed's extension) a data URI or bare base64.

    Raises ``InvalidRequest`` for text that is neither, naming it as the URL the caller meant; base64 is
    mentioned only for text that can be nothing else, so a mistyped URL is not answered with base64 advice.
    """
    source = ImageSource.from_text(text)
    stripped = text.strip()
    if source.kind == "url" or stripped.lower().startswith("data:") or BASE64_TEXT.fullmatch(stripped):
        return source
    raise InvalidRequest(
        f"{stripped[:100]!r} is not a URL: give the image's full address, starting with https://"
    )


router = compat_router(
    SERVICE,
    render_error,
    header_key(SERVICE, "x-api-key"),
    CoreVizError,
    statuses=(400, 401, 413, 422, 429, 503),
)


@router.post("/api/ai/embeddings", response_model=CoreVizEmbeddingResponse)
async def coreviz_embeddings(
    body: CoreVizEmbeddingRequest,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> CoreVizEmbeddingResponse:
    """Embed one image given by URL, the CoreViz way; ``model`` picks a served model ('default': the
    server's default)."""
    model = await models.get_async(None if body.model == DEFAULT_MODEL else body.model)
    [vector] = await embed_all_images(model, [image_source(body.image)], settings)
    return CoreVizEmbeddingResponse(
        embedding=vector.tolist(), dimensions=model.info.dimensions, model=body.model
    )
