"""POST /v1/embed (images, multipart or JSON) and POST /v1/embed/text."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.bodies import is_multipart, read_form, read_json
from pixembed.api.openapi import body_doc
from pixembed.api.requests import form_image_sources, form_model, parse_body
from pixembed.api.results import embed_answer, text_answer
from pixembed.api.schemas import EmbedRequest, TextEmbedRequest, to_source
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.errors import InvalidRequest
from pixembed.runtime.pool import ModelPool
from pixembed.services.embedding import embed_image_sources, embed_texts
from pixembed.services.inputs import ImageSource
from pixembed.wire import EmbedResponse, TextEmbedResponse

router = APIRouter(
    prefix="/v1",
    tags=["embed"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)

MULTIPART_OR_JSON = body_doc(
    EmbedRequest, {"image": {"type": "array", "items": {"type": "string", "format": "binary"}}}
)


async def _image_sources(request: Request, settings: Settings) -> tuple[list[ImageSource], str | None]:
    if is_multipart(request):
        form = await read_form(
            request, max_files=settings.max_batch_items, max_file_bytes=settings.max_upload_bytes
        )
        return await form_image_sources(form, field=None), form_model(form)
    body = parse_body(EmbedRequest, await read_json(request))
    refs = ([body.image] if body.image is not None else []) + (body.images or [])
    if not refs:
        raise InvalidRequest('no image given: send "image" (one) or "images" (a list)')
    return [to_source(ref) for ref in refs], body.model


@router.post(
    "/embed",
    response_model=EmbedResponse,
    response_model_exclude_none=True,
    openapi_extra=MULTIPART_OR_JSON,
    summary="Embed one or many images",
)
async def embed_images_route(
    request: Request,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> EmbedResponse:
    """Multipart ``image`` files, or JSON ``image``/``images`` as URLs, base64 or data URIs; ``model``
    picks a served model."""
    sources, requested = await _image_sources(request, settings)
    model = await models.get_async(requested)
    results = await embed_image_sources(model, sources, settings)
    # A lone image that failed is the request's failure, not a batch with one bad item.
    if len(results) == 1 and results[0].error is not None:
        raise results[0].error
    return embed_answer(model.info, results)


@router.post("/embed/text", response_model=TextEmbedResponse, response_model_exclude_none=True)
async def embed_text_route(
    body: TextEmbedRequest,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> TextEmbedResponse:
    """Embed a string or a list of strings."""
    model = await models.get_async(body.model)
    texts = [body.text] if isinstance(body.text, str) else body.text
    vectors = await embed_texts(model, texts, settings)
    return text_answer(model.info, texts, vectors, single=isinstance(body.text, str))
