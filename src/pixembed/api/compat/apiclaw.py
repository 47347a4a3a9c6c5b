"""APIClaw: ``/openapi/v2/model/image-embedding`` and ``image-detection``, in ``{success, data, meta}``.

The key comes as ``Authorization: Bearer``. Embedding given ``boundingBoxes`` crops, embeds, tags (the ten
fashion categories, zero-shot) and scores texts; without boxes it detects the fashion items first (the
server's detector, up to ``topK``). Detection answers the ten categories with APIClaw's class ids.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from pixembed.api.auth import bearer_key, credits_of
from pixembed.api.compat.shapes import retry_headers, shaped_route, status_of
from pixembed.api.state import get_detector, get_model, get_settings
from pixembed.config import Settings
from pixembed.errors import PixembedError
from pixembed.runtime.detection import Detector
from pixembed.runtime.model import ClipModel
from pixembed.services.detection import classes_from_label_set, detect
from pixembed.services.inputs import ImageSource
from pixembed.services.labelsets import FASHION
from pixembed.services.regions import embed_detected_regions, embed_regions

SERVICE = "APIClaw"
UNLIMITED_CREDITS = 2**31 - 1
"""``creditsRemaining`` for a key without a quota: a number (clients subtract from it), the largest int32."""
_REQUEST: ContextVar[Request | None] = ContextVar("apiclaw_request", default=None)


class CamelModel(BaseModel):
    """APIClaw spells fields in camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ApiClawMeta(CamelModel):
    """Per-call metadata. A credit is one call charged to the key (APIClaw charges 1 per request)."""

    request_id: str
    timestamp: str
    credits_remaining: int = Field(
        description=f"calls left in the key's quota period; {UNLIMITED_CREDITS} for a key without a quota, "
        "0 when no key was accepted"
    )
    credits_consumed: int = Field(description="1 for a call charged to the key, 0 for one refused before")


class ApiClawErrorDetail(BaseModel):
    """What went wrong, as a code and a message."""

    code: str
    message: str


class ApiClawError(CamelModel):
    """The failure envelope."""

    success: bool = False
    data: None = None
    error: ApiClawErrorDetail
    meta: ApiClawMeta


Coordinates = Annotated[list[int], Field(min_length=4, max_length=4)]


class ApiClawEmbeddingRequest(CamelModel):
    """The image-embedding request; ``image`` may also be a data URI or base64."""

    image: str = Field(min_length=1)
    top_k: int | None = Field(default=None, ge=1, le=50)
    bounding_boxes: list[Coordinates] | None = None
    text: str | list[str] | None = None
    with_tag: bool = False
    with_embedding: bool = True


class ApiClawEmbeddingData(CamelModel):
    """Per item, in box order: the box, its tag ``[label, score]``, vector, and its match with the texts."""

    bounding_boxes: list[list[int]]
    tags: list[tuple[str, float]] | None
    embeddings: list[list[float]] | None
    text_relevance_scores: list[float] | None = Field(
        description="per item, its cosine similarity with the text; with several texts, with its best match "
        "(APIClaw's type is number[] | null)"
    )
    text_relevance_scores_per_text: list[list[float]] | None = Field(
        description="pixembed's extension: per item, its cosine similarity with each text, in text order "
        "(null when no text was sent)"
    )


class ApiClawEmbeddingResponse(CamelModel):
    """The success envelope of image-embedding."""

    success: bool = True
    data: ApiClawEmbeddingData
    meta: ApiClawMeta


class ApiClawDetectionRequest(CamelModel):
    """The image-detection request."""

    image: str = Field(min_length=1)
    top_k: int = Field(ge=1, le=50)
    classes: list[int] | None = None
    return_image: bool = False


class ApiClawDetection(CamelModel):
    """One detected item; the box is in pixels of the (EXIF-rotated) image."""

    area_ratio: float
    center_distance_ratio: float
    class_id: int
    score: float
    bounding_box: list[int]


class ApiClawDetectionData(CamelModel):
    """Detections best first, and the annotated PNG (base64) when ``returnImage`` was set."""

    detections: list[ApiClawDetection]
    annotated_image: str | None


class ApiClawDetectionResponse(CamelModel):
    """The success envelope of image-detection."""

    success: bool = True
    data: ApiClawDetectionData
    meta: ApiClawMeta


def new_meta() -> ApiClawMeta:
    """A fresh request id, the current UTC time in APIClaw's format, and the credits of this request."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    request = _REQUEST.get()
    consumed, remaining = 0, 0
    if request is not None:
        credits = credits_of(request)
        consumed = credits.consumed
        if credits.remaining is not None:
            remaining = credits.remaining
        elif credits.consumed:
            remaining = UNLIMITED_CREDITS
    return ApiClawMeta(
        request_id=f"req_{secrets.token_hex(8)}",
        timestamp=now,
        credits_remaining=remaining,
        credits_consumed=consumed,
    )


def failure(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The failure envelope with ``status``."""
    body = ApiClawError(error=ApiClawErrorDetail(code=code, message=message), meta=new_meta())
    return JSONResponse(body.model_dump(by_alias=True), status_code=status, headers=headers)


def render_error(error: PixembedError) -> JSONResponse:
    """A pixembed error as an APIClaw failure envelope."""
    return failure(status_of(error), error.code.upper(), error.message, retry_headers(error))


class ApiClawRoute(shaped_route(render_error)):  # type: ignore[misc]
    """A shaped route that lets ``new_meta`` see the request it answers, failures included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler: Callable[[Request], Coroutine[Any, Any, Response]] = super().get_route_handler()

        async def with_request(request: Request) -> Response:
            token = _REQUEST.set(request)
            try:
                return await handler(request)
            finally:
                _REQUEST.reset(token)

        return with_request


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ApiClawError} for status in (400, 401, 402, 413, 415, 422, 429, 503)
}
router = APIRouter(
    prefix="/openapi/v2/model",
    tags=[SERVICE],
    route_class=ApiClawRoute,
    dependencies=[Depends(bearer_key(SERVICE))],
    responses=ERROR_RESPONSES,
)


@router.post("/image-embedding", response_model=ApiClawEmbeddingResponse, response_model_by_alias=True)
async def apiclaw_image_embedding(
    body: ApiClawEmbeddingRequest,
    request: Request,
    model: ClipModel = Depends(get_model),
    settings: Settings = Depends(get_settings),
) -> ApiClawEmbeddingResponse:
    """Embed the given boxes of an image, or the fashion items detected in it; tag and score on request."""
    texts = [body.text] if isinstance(body.text, str) else (body.text or [])
    labels = FASHION if body.with_tag else None
    source = ImageSource.from_text(body.image)
    if body.bounding_boxes:
        regions = await embed_regions(
            model, source, body.bounding_boxes, settings, labels=labels, texts=texts
        )
    else:
        regions = await embed_detected_regions(
            model,
            await get_detector(request),
            source,
            classes_from_label_set(FASHION),
            settings,
            top_k=body.top_k or 10,
            labels=labels,
            texts=texts,
        )
    scores: list[float] | None = None
    per_text: list[list[float]] | None = None
    if texts:
        # One score per item ("text": ["red dress"] -> [0.847]); with several texts, the item's best match,
        # so the documented number[] holds; every text's score is in the extension field.
        per_text = [list(region.text_scores) for region in regions]
        scores = [max(item) for item in per_text]
    data = ApiClawEmbeddingData(
        bounding_boxes=[list(region.box) for region in regions],
        tags=[(r.tag.label.name, r.tag.score) for r in regions if r.tag] if body.with_tag else None,
        embeddings=[region.vector.tolist() for region in regions] if body.with_embedding else None,
        text_relevance_scores=scores,
        text_relevance_scores_per_text=per_text,
    )
    return ApiClawEmbeddingResponse(data=data, meta=new_meta())


@router.post("/image-detection", response_model=ApiClawDetectionResponse, response_model_by_alias=True)
async def apiclaw_image_detection(
    body: ApiClawDetectionRequest,
    detector: Detector = Depends(get_detector),
    settings: Settings = Depends(get_settings),
) -> ApiClawDetectionResponse:
    """Detect the fashion categories (all, or the ``classes`` ids), at most ``topK``, best first."""
    classes = classes_from_label_set(FASHION, body.classes)
    result = await detect(
        detector,
        ImageSource.from_text(body.image),
        classes,
        settings,
        top_k=body.top_k,
        annotate_image=body.return_image,
    )
    detections = [
        ApiClawDetection(
            area_ratio=d.area_ratio,
            center_distance_ratio=d.center_distance_ratio,
            class_id=d.class_id,
            score=d.score,
            bounding_box=list(d.box),
        )
        for d in result.detections
    ]
    image = base64.b64encode(result.annotated_png).decode() if result.annotated_png else None
    return ApiClawDetectionResponse(
        data=ApiClawDetectionData(detections=detections, annotated_image=image), meta=new_meta()
    )
