"""mSightFlow: its ``/v1/embed`` and ``/v1/embed/search`` are pixembed's native routes, which already take
its multipart requests and answer the ``vector`` and ``results`` it reads, with its key as ``Authorization:
Bearer`` (``pixembed.api.auth.require_scope``). Its FAQ and page name four more paths, served here:
``/embedding/`` and ``/embedding/search/`` (the same two routes), ``/v1/detect/zero-shot`` (text-prompted
boxes) and ``/cv_tools/perceptual_dedup`` (dHash duplicate groups of a posted set).

mSightFlow documents no body for the last two; they answer in the style of its documented ones: multipart in,
flat JSON out, files named by their upload filename.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.inputs import Decoded, Form
from pixembed.api.routes.embed import EMBED_BODY, embed_images_route
from pixembed.api.routes.search import SEARCH_BODY, search_route
from pixembed.api.schemas import MODEL_DOC, ImageRef, to_source
from pixembed.api.state import detector_for, get_analysis, get_settings
from pixembed.config import Settings
from pixembed.services.analysis_service import AnalysisService, DedupRun
from pixembed.services.dedup import Catalogue, DedupResult
from pixembed.services.detection import MAX_TOP_K, detect, resolve_classes
from pixembed.services.hashing import HASH_BITS
from pixembed.services.inputs import ImageSource
from pixembed.wire import EmbedResponse, SearchResponse

SERVICE = "mSightFlow"
PATHS = ("/v1/embed", "/v1/embed/search")

router = APIRouter(tags=[SERVICE], route_class=AuthFirstRoute, dependencies=[Depends(require_scope("read"))])

# The FAQ's names for the two documented routes: the same handlers, so the same answers.
router.add_api_route(
    "/embedding/",
    embed_images_route,
    methods=["POST"],
    response_model=EmbedResponse,
    response_model_exclude_none=True,
    openapi_extra=EMBED_BODY.openapi,
    summary="Embed an image (mSightFlow's /embedding/, the same as /v1/embed)",
)
router.add_api_route(
    "/embedding/search/",
    search_route,
    methods=["POST"],
    response_model=SearchResponse,
    openapi_extra=SEARCH_BODY.openapi,
    summary="Rank a posted dataset against a query (mSightFlow's /embedding/search/)",
)


class ZeroShotRequest(BaseModel):
    """``/v1/detect/zero-shot``: one image (a multipart ``image`` file, or a URL or base64 in JSON) and the
    text prompts to look for."""

    model_config = ConfigDict(extra="forbid")

    image: ImageRef
    prompts: list[str] = Field(
        min_length=1,
        description='repeat the field, or one text in Grounding DINO\'s form "a cat . a dog ."',
    )
    box_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int = Field(default=10, ge=1, le=MAX_TOP_K)
    model: str | None = Field(default=None, description=MODEL_DOC)

    @field_validator("prompts")
    @classmethod
    def _split_periods(cls, prompts: list[str]) -> list[str]:
        texts = [part.strip() for prompt in prompts for part in prompt.split(".") if part.strip()]
        if not texts:
            raise ValueError("give at least one text prompt")
        return texts


class ZeroShotDetection(BaseModel):
    label: str
    score: float
    box: list[int] = Field(description="[x_min, y_min, x_max, y_max] in pixels")


class ZeroShotResponse(BaseModel):
    width: int
    height: int
    detections: list[ZeroShotDetection]


class PerceptualDedupRequest(BaseModel):
    """``/cv_tools/perceptual_dedup``: the images (multipart ``images`` files, or URLs or base64 in JSON)."""

    model_config = ConfigDict(extra="forbid")

    images: Annotated[list[ImageRef], Form("images", "dataset")]
    hash: Literal["dhash", "phash"] = "dhash"
    threshold: int | None = Field(default=None, ge=0, le=HASH_BITS, description="Hamming bits")

    def sources(self) -> list[ImageSource]:
        """The images, in the order sent."""
        return [to_source(ref) for ref in self.images]


class Duplicate(BaseModel):
    filename: str
    distance: int


class DuplicateGroup(BaseModel):
    keep: str = Field(description="the largest image of the group")
    duplicates: list[Duplicate]


class PerceptualDedupResponse(BaseModel):
    hash: str
    threshold: int
    groups: list[DuplicateGroup]
    unique: list[str]


ZERO_SHOT_BODY = Decoded(ZeroShotRequest, max_files=lambda s: 1)
PERCEPTUAL_DEDUP_BODY = Decoded(
    PerceptualDedupRequest,
    max_files=lambda s: s.max_dataset_items,
    too_many=lambda s: f"too many images; one request takes at most {s.max_dataset_items}",
)


@router.post(
    "/v1/detect/zero-shot",
    response_model=ZeroShotResponse,
    openapi_extra=ZERO_SHOT_BODY.openapi,
    summary="Boxes of text-prompted things in an image",
)
async def zero_shot_route(
    request: Request,
    settings: Settings = Depends(get_settings),
    body: ZeroShotRequest = Depends(ZERO_SHOT_BODY),
) -> ZeroShotResponse:
    """The detections ``/v1/detect`` gives for the prompts as classes, in mSightFlow's flat shape."""
    result = await detect(
        await detector_for(request, body.model),
        to_source(body.image),
        resolve_classes(body.prompts, settings),
        settings,
        top_k=body.top_k,
        threshold=body.box_threshold,
    )
    return ZeroShotResponse(
        width=result.width,
        height=result.height,
        detections=[
            ZeroShotDetection(label=d.label, score=d.score, box=list(d.box)) for d in result.detections
        ],
    )


def _groups(cat: Catalogue, result: DedupResult) -> PerceptualDedupResponse:
    """Star groups by filename: every duplicate within the threshold of the image kept."""
    names = [name or f"image_{i}" for i, name in enumerate(cat.names)]
    grouped = {member for group in result.groups for member in group.members}
    assert result.hash_threshold is not None  # a hash method always has a bit threshold
    return PerceptualDedupResponse(
        hash=result.method,
        threshold=result.hash_threshold,
        groups=[
            DuplicateGroup(
                keep=names[group.keep],
                duplicates=[
                    Duplicate(filename=names[c.index], distance=c.distance or 0) for c in group.copies
                ],
            )
            for group in result.groups
        ],
        unique=[name for i, name in enumerate(names) if i not in grouped],
    )


@router.post(
    "/cv_tools/perceptual_dedup",
    response_model=PerceptualDedupResponse,
    openapi_extra=PERCEPTUAL_DEDUP_BODY.openapi,
    summary="Groups of near-identical images by perceptual hash",
)
async def perceptual_dedup_route(
    analysis: AnalysisService = Depends(get_analysis),
    body: PerceptualDedupRequest = Depends(PERCEPTUAL_DEDUP_BODY),
) -> PerceptualDedupResponse:
    """The duplicate groups of the posted images, the largest of each kept (``/v1/dedup`` by one hash)."""
    return await analysis.dedup_images(body.sources(), DedupRun(body.hash, body.threshold), _groups)


def tag_routes(app: FastAPI) -> None:
    """List the shared native routes under the mSightFlow tag too, so its users find them in /docs."""
    build = app.openapi

    # FastAPI's documented hook for editing the generated schema; the routes themselves stay native.
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for path in PATHS:
                for operation in schema["paths"].get(path, {}).values():
                    operation.setdefault("tags", []).append(SERVICE)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
