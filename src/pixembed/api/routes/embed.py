"""POST /v1/embed (images, multipart or JSON) and POST /v1/embed/text."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.errors import error_body
from pixembed.api.inputs import Decoded
from pixembed.api.schemas import (
    EmbeddingItem,
    EmbedRequest,
    EmbedResponse,
    ErrorBody,
    TextEmbedRequest,
    TextEmbedResponse,
    TextItem,
)
from pixembed.api.state import get_model, get_settings
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from pixembed.services.embedding import embed_image_sources, embed_texts

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
    model: ClipModel = Depends(get_model),
    settings: Settings = Depends(get_settings),
    body: EmbedRequest = Depends(EMBED_BODY),
) -> EmbedResponse:
    """Multipart ``image`` files, or JSON ``image``/``images`` as URLs, base64 or data URIs."""
    results = await embed_image_sources(model, body.sources(), settings)
    items = [
        EmbeddingItem(
            index=r.index,
            filename=r.name,
            embedding=r.vector.tolist() if r.vector is not None else None,
            error=ErrorBody.model_validate(error_body(r.error)) if r.error is not None else None,
        )
        for r in results
    ]
    # A lone image that failed is the request's failure, not a batch with one bad item.
    if len(results) == 1 and results[0].error is not None:
        raise results[0].error
    vector = items[0].embedding if len(items) == 1 else None
    return EmbedResponse(model=model.info.name, dimensions=model.info.dimensions, vector=vector, data=items)


@router.post("/embed/text", response_model=TextEmbedResponse, response_model_exclude_none=True)
async def embed_text_route(
    body: TextEmbedRequest,
    model: ClipModel = Depends(get_model),
    settings: Settings = Depends(get_settings),
) -> TextEmbedResponse:
    """Embed a string or a list of strings."""
    texts = [body.text] if isinstance(body.text, str) else body.text
    vectors = await embed_texts(model, texts, settings)
    items = [
        TextItem(index=i, text=t, embedding=v.tolist())
        for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
    ]
    vector = items[0].embedding if isinstance(body.text, str) else None
    return TextEmbedResponse(
        model=model.info.name, dimensions=model.info.dimensions, vector=vector, data=items
    )
