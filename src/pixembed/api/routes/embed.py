"""POST /v1/embed (images, multipart or JSON) and POST /v1/embed/text."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.inputs import Decoded
from pixembed.api.results import embed_answer, text_answer
from pixembed.api.schemas import EmbedRequest, TextEmbedRequest
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.runtime.pool import ModelPool
from pixembed.services.embedding import embed_image_sources, embed_texts
from pixembed.wire import EmbedResponse, TextEmbedResponse

router = APIRouter(
    prefix="/v1",
    tags=["embed"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)

EMBED_BODY = Decoded(EmbedRequest, max_files=lambda s: s.max_batch_items)


@router.post(
    "/embed",
    response_model=EmbedResponse,
    response_model_exclude_none=True,
    openapi_extra=EMBED_BODY.openapi,
    summary="Embed one or many images",
)
async def embed_images_route(
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
    body: EmbedRequest = Depends(EMBED_BODY),
) -> EmbedResponse:
    """Multipart ``image`` files, or JSON ``image``/``images`` as URLs, base64 or data URIs."""
    model = await models.get_async(body.model)
    results = await embed_image_sources(model, body.sources(), settings)
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
