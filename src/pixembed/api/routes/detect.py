"""POST /v1/detect (JSON or multipart) and POST /v1/embed/regions."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Depends, Request

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.detect_schemas import (
    DetectionOut,
    DetectRequest,
    DetectResponse,
    RegionOut,
    RegionsRequest,
    RegionsResponse,
    RelevanceOut,
    TagOut,
)
from pixembed.api.inputs import Decoded
from pixembed.api.schemas import to_source
from pixembed.api.state import get_detector, get_model, get_settings
from pixembed.config import Settings
from pixembed.runtime.detection import Detector
from pixembed.runtime.model import ClipModel
from pixembed.services.detection import classes_from_label_set, detect, label_set, resolve_classes
from pixembed.services.regions import embed_detected_regions, embed_regions

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
    detector: Detector = Depends(get_detector),
    settings: Settings = Depends(get_settings),
    body: DetectRequest = Depends(DETECT_BODY),
) -> DetectResponse:
    """Boxes of the given classes (texts, or a label set such as "fashion"), best first."""
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
    return DetectResponse(
        width=result.width,
        height=result.height,
        detector=result.detector,
        detections=[
            DetectionOut(
                box=list(d.box),
                label=d.label,
                class_id=d.class_id,
                score=d.score,
                area_ratio=d.area_ratio,
                center_distance_ratio=d.center_distance_ratio,
            )
            for d in result.detections
        ],
        image=base64.b64encode(result.annotated_png).decode() if result.annotated_png else None,
    )


@router.post(
    "/embed/regions",
    response_model=RegionsResponse,
    openapi_extra=REGIONS_BODY.openapi,
    summary="Embed regions of an image",
)
async def embed_regions_route(
    request: Request,
    model: ClipModel = Depends(get_model),
    settings: Settings = Depends(get_settings),
    body: RegionsRequest = Depends(REGIONS_BODY),
) -> RegionsResponse:
    """Vectors, tags and text relevance for the given boxes, or for the regions a detector finds."""
    labels = body.tag_labels()
    texts = body.texts or []
    source = to_source(body.image)
    if body.boxes is not None:
        regions = await embed_regions(model, source, body.boxes, settings, labels=labels, texts=texts)
    else:
        classes = classes_from_label_set(labels or label_set("fashion"))
        regions = await embed_detected_regions(
            model,
            get_detector(request),
            source,
            classes,
            settings,
            top_k=body.top_k,
            labels=labels,
            texts=texts,
        )
    return RegionsResponse(
        model=model.info.name,
        dimensions=model.info.dimensions,
        regions=[
            RegionOut(
                box=list(r.box),
                vector=r.vector.tolist(),
                tags=[TagOut(label=t.label.name, score=t.score) for t in r.ranked_tags[:3]],
                relevance=[RelevanceOut(text=t, score=s) for t, s in zip(texts, r.text_scores, strict=True)],
            )
            for r in regions
        ],
    )
