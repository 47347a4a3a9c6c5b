"""POST /v1/embed/search: top-k over a posted dataset (the mSightFlow shape, plus text queries)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.bodies import is_multipart, read_form, read_json
from pixembed.api.openapi import body_doc
from pixembed.api.requests import form_image_sources, form_int, form_model, form_texts, parse_body
from pixembed.api.results import search_answer
from pixembed.api.schemas import SearchRequest, to_source
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.errors import InvalidRequest, TooManyItems
from pixembed.runtime.pool import ModelPool
from pixembed.services.inputs import ImageSource
from pixembed.services.search import search_dataset
from pixembed.wire import SearchResponse

router = APIRouter(
    prefix="/v1",
    tags=["search"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)

SEARCH_BODY = body_doc(
    SearchRequest,
    {
        "query": {"type": "string", "format": "binary"},
        "query_text": {"type": "string"},
        "query_url": {"type": "string"},
        "dataset": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "dataset_url": {"type": "array", "items": {"type": "string"}},
        "top_k": {"type": "integer", "minimum": 1},
    },
)


def _one_query(images: list[ImageSource], texts: list[str]) -> str | ImageSource:
    if len(images) + len(texts) != 1:
        raise InvalidRequest(
            "send exactly one query: a 'query' image, a 'query_url', "
            "or a 'query_text' for text-to-image search"
        )
    return images[0] if images else texts[0]


Posted = tuple[str | ImageSource, list[ImageSource], int, str | None]


async def _from_form(request: Request, settings: Settings) -> Posted:
    form = await read_form(
        request, max_files=settings.max_dataset_items + 1, max_file_bytes=settings.max_upload_bytes
    )
    urls = [ImageSource("url", u, u) for u in form_texts(form, "query_url")]
    query = _one_query(await form_image_sources(form, "query") + urls, form_texts(form, "query_text"))
    dataset = await form_image_sources(form, "dataset")
    dataset += [ImageSource("url", u, u) for u in form_texts(form, "dataset_url")]
    return query, dataset, form_int(form, "top_k", 5), form_model(form)


async def _from_json(request: Request) -> Posted:
    body = parse_body(SearchRequest, await read_json(request))
    images = [to_source(body.query)] if body.query is not None else []
    texts = [body.query_text] if body.query_text is not None else []
    return _one_query(images, texts), [to_source(ref) for ref in body.dataset], body.top_k, body.model


@router.post("/embed/search", response_model=SearchResponse, openapi_extra=SEARCH_BODY)
async def search_route(
    request: Request,
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
) -> SearchResponse:
    """Rank up to 10,000 posted images by similarity to an image or text query; best ``top_k`` first."""
    try:
        query, dataset, top_k, requested = await (
            _from_form(request, settings) if is_multipart(request) else _from_json(request)
        )
    except InvalidRequest as exc:
        if "too many files" in exc.message:
            raise TooManyItems(
                f"too many dataset images; one search takes at most {settings.max_dataset_items}"
            ) from exc
        raise
    model = await models.get_async(requested)
    result = await search_dataset(model, query, dataset, top_k, settings)
    return search_answer(model.info, result)
