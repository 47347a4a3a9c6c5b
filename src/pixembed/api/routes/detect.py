"""POST /v1/detect (JSON or multipart) and POST /v1/embed/regions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.bodies import is_multipart, read_form, read_json
from pixembed.api.detect_schemas import DetectRequest, RegionsRequest
from pixembed.api.openapi import body_doc
from pixembed.api.requests import form_image_sources, form_model, form_texts, parse_body
from pixembed.api.results import detect_answer, regions_answer
from pixembed.api.schemas import to_source
from pixembed.api.state import detector_for, get_models, get_settings
from pixembed.config import Settings
from pixembed.errors import InvalidRequest
from pixembed.runtime.pool import ModelPool
from pixembed.services.detection import (
    LABEL_SETS,
    check_detect_args,
    classes_from_label_set,
    detect,
    label_set,
    resolve_classes,
)
from pixembed.services.inputs import ImageSource
from pixembed.services.labelsets import LabelSet, label_set_from_texts
from pixembed.services.regions import embed_detected_regions, embed_regions
from pixembed.wire import DetectResponse, RegionsResponse

router = APIRouter(
    prefix="/v1",
    tags=["detect"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)

DETECT_BODY = body_doc(
    DetectRequest,
    {
        "image": {"type": "string", "format": "binary"},
        "classes": {"type": "array", "items": {"type": "string"}, "description": "repeat, or one label set"},
        "top_k": {"type": "integer", "minimum": 1, "maximum": 50},
        "threshold": {"type": "number"},
        "return_image": {"type": "boolean"},
    },
)


def _form_number(raw: list[str], name: str, kind: type[int] | type[float]) -> float | None:
    if not raw:
        return None
    try:
        return kind(raw[0].strip())
    except ValueError as exc:
        raise InvalidRequest(f"form field {name!r} must be a number, got {raw[0][:40]!r}") from exc


async def _detect_body(
    request: Request, settings: Settings
) -> DetectRequest | tuple[ImageSource, DetectRequest]:
    if not is_multipart(request):
        return parse_body(DetectRequest, await read_json(request))
    form = await read_form(request, max_files=1, max_file_bytes=settings.max_upload_bytes)
    images = await form_image_sources(form, "image")
    if len(images) != 1:
        raise InvalidRequest("send exactly one 'image' file")
    classes = form_texts(form, "classes")
    top_k = _form_number(form_texts(form, "top_k"), "top_k", int)
    threshold = _form_number(form_texts(form, "threshold"), "threshold", float)
    flag = (form_texts(form, "return_image") or ["false"])[0].strip().lower()
    body = DetectRequest(
        image="form",
        # One value that names a label set means the set; otherwise every value is a class.
        classes=classes[0] if len(classes) == 1 and classes[0].strip().lower() in LABEL_SETS else classes,
        top_k=int(top_k) if top_k is not None else 10,
        threshold=threshold,
        return_image=flag in ("1", "true", "yes", "on"),
        model=form_model(form),
    )
    return images[0], body


@router.post(
    "/detect",
    response_model=DetectResponse,
    openapi_extra=DETECT_BODY,
    summary="Detect objects of given classes",
)
async def detect_route(
    request: Request,
    settings: Settings = Depends(get_settings),
) -> DetectResponse:
    """Boxes of the given classes (texts, or a label set such as "fashion"), best first."""
    parsed = await _detect_body(request, settings)
    source, body = parsed if isinstance(parsed, tuple) else (to_source(parsed.image), parsed)
    detector = await detector_for(request, body.model)
    check_detect_args(body.top_k, body.threshold)
    classes = resolve_classes(body.classes, settings)
    result = await detect(
        detector,
        source,
        classes,
        settings,
        top_k=body.top_k,
        threshold=body.threshold,
        annotate_image=body.return_image,
    )
    return detect_answer(result)


def _tag_labels(body: RegionsRequest) -> LabelSet | None:
    if body.labels is not None and body.label_set is not None:
        raise InvalidRequest("give labels or label_set, not both")
    if body.labels is not None:
        return label_set_from_texts(body.labels)
    return label_set(body.label_set) if body.label_set is not None else None


@router.post("/embed/regions", response_model=RegionsResponse, summary="Embed regions of an image")
async def embed_regions_route(
    body: RegionsRequest,
    request: Request,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> RegionsResponse:
    """Vectors, tags and text relevance for the given boxes, or for the regions a detector finds."""
    model = await models.get_async(body.model)
    labels = _tag_labels(body)
    texts = body.texts or []
    source = to_source(body.image)
    if body.boxes is not None:
        regions = await embed_regions(model, source, body.boxes, settings, labels=labels, texts=texts)
    else:
        check_detect_args(body.top_k, None)
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
