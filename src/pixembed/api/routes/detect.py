"""POST /v1/detect (JSON or multipart) and POST /v1/embed/regions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.detect_schemas import DetectRequest, RegionsRequest
from pixembed.api.inputs import Decoded
from pixembed.api.results import detect_answer, regions_answer
from pixembed.api.schemas import to_source
from pixembed.api.state import detector_for, get_models, get_settings
from pixembed.config import Settings
from pixembed.runtime.pool import ModelPool
from pixembed.services.detection import classes_from_label_set, detect, label_set, resolve_classes
from pixembed.services.regions import embed_detected_regions, embed_regions
from pixembed.wire import DetectResponse, RegionsResponse

router = APIRouter(
    prefix="/v1",
    tags=["detect"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)

DETECT_BODY = Decoded(DetectRequest, max_files=lambda s: 1)
REGIONS_BODY = Decoded(RegionsRequest, max_files=lambda s: 1)


@router.post(
    "/detect",
    response_model=DetectResponse,
    openapi_extra=DETECT_BODY.openapi,
    summary="Detect objects of given classes",
)
async def detect_route(
    request: Request,
    settings: Settings = Depends(get_settings),
    body: DetectRequest = Depends(DETECT_BODY),
) -> DetectResponse:
    """Boxes of the given classes (texts, or a label set such as "fashion"), best first."""
    detector = await detector_for(request, body.model)
    classes = resolve_classes(body.classes, settings)
    result = await detect(
        detector,
        to_source(body.image),
        classes,
        settings,
        top_k=body.top_k,
        threshold=body.threshold,
        annotate_image=body.return_image,
    )
    return detect_answer(result)


@router.post(
    "/embed/regions",
    response_model=RegionsResponse,
    openapi_extra=REGIONS_BODY.openapi,
    summary="Embed regions of an image",
)
async def embed_regions_route(
    request: Request,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
    body: RegionsRequest = Depends(REGIONS_BODY),
) -> RegionsResponse:
    """Vectors, tags and text relevance for the given boxes, or for the regions a detector finds."""
    model = await models.get_async(body.model)
    labels = body.tag_labels()
    texts = body.texts or []
    source = to_source(body.image)
    if body.boxes is not None:
        regions = await embed_regions(model, source, body.boxes, settings, labels=labels, texts=texts)
    else:
        classes = classes_from_label_set(labels or label_set("fashion"))
        regions = await embed_detected_regions(
            model,
            await detector_for(request, body.model),
            source,
            classes,
            settings,
            top_k=body.top_k,
            labels=labels,
            texts=texts,
        )
    return regions_answer(model.info, regions, texts)
