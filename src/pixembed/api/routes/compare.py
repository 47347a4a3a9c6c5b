"""POST /v1/compare: zero-shot comparison of a subject with prompts."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.bodies import is_multipart, read_form, read_json
from pixembed.api.openapi import body_doc
from pixembed.api.requests import form_image_sources, form_model, form_texts, parse_body
from pixembed.api.results import compare_answer
from pixembed.api.schemas import CompareRequest, to_source
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.errors import InvalidRequest
from pixembed.runtime.pool import ModelPool
from pixembed.services.compare import compare
from pixembed.services.inputs import ImageSource
from pixembed.wire import CompareResponse

router = APIRouter(
    prefix="/v1",
    tags=["compare"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)

Subject = str | ImageSource
Prompts = list[str] | list[ImageSource]

COMPARE_BODY = body_doc(
    CompareRequest,
    {
        "image": {"type": "string", "format": "binary"},
        "subject_text": {"type": "string"},
        "prompts": {"type": "array", "items": {"type": "string"}},
        "prompt_images": {"type": "array", "items": {"type": "string", "format": "binary"}},
    },
)


async def _from_form(request: Request, settings: Settings) -> tuple[Subject, Prompts, str | None]:
    form = await read_form(
        request, max_files=settings.max_batch_items + 1, max_file_bytes=settings.max_upload_bytes
    )
    images = await form_image_sources(form, "image") + await form_image_sources(form, "subject")
    texts = form_texts(form, "subject_text")
    if len(images) + len(texts) != 1:
        raise InvalidRequest("send exactly one subject: an 'image' file or a 'subject_text' field")
    subject: Subject = images[0] if images else texts[0]
    prompt_texts = form_texts(form, "prompts", "labels")
    prompt_images = await form_image_sources(form, "prompt_images")
    if prompt_texts and prompt_images:
        raise InvalidRequest("prompts must be all texts ('prompts') or all images ('prompt_images')")
    return subject, prompt_images or prompt_texts, form_model(form)


async def _from_json(request: Request) -> tuple[Subject, Prompts, str | None]:
    body = parse_body(CompareRequest, await read_json(request))
    if body.subject_type == "text":
        if not isinstance(body.subject, str):
            raise InvalidRequest("subject_type is 'text', so subject must be a string")
        subject: Subject = body.subject
    else:
        subject = to_source(body.subject)
    raw = [body.prompts] if isinstance(body.prompts, str) else body.prompts
    if body.prompt_type == "text":
        if not all(isinstance(p, str) for p in raw):
            raise InvalidRequest("prompt_type is 'text', so every prompt must be a string")
        return subject, [str(p) for p in raw], body.model
    return subject, [to_source(p) for p in raw], body.model


def _label(index: int, prompt: str | ImageSource) -> str:
    return prompt if isinstance(prompt, str) else (prompt.name or f"image {index}")


@router.post("/compare", response_model=CompareResponse, openapi_extra=COMPARE_BODY)
async def compare_route(
    request: Request,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> CompareResponse:
    """Cosine similarity of the subject with each prompt, and softmax probabilities (zero-shot)."""
    parsed = await (_from_form(request, settings) if is_multipart(request) else _from_json(request))
    subject, prompts, requested = parsed
    model = await models.get_async(requested)
    result = await compare(model, subject, prompts, settings)
    given: Sequence[str | ImageSource] = prompts
    labels = [_label(i, p) for i, p in enumerate(given)]
    return compare_answer(model.info, labels, result)
