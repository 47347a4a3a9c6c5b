"""POST /v1/embed/search: top-k over a posted dataset (the mSightFlow shape, plus text queries)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.inputs import Decoded
from pixembed.api.results import search_answer
from pixembed.api.schemas import SearchRequest
from pixembed.api.state import get_models, get_settings
from pixembed.config import Settings
from pixembed.runtime.pool import ModelPool
from pixembed.services.search import search_dataset
from pixembed.wire import SearchResponse

router = APIRouter(
    prefix="/v1",
    tags=["search"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)

# One search takes the dataset's files and one query file.
SEARCH_BODY = Decoded(
    SearchRequest,
    max_files=lambda s: s.max_dataset_items + 1,
    too_many=lambda s: f"too many dataset images; one search takes at most {s.max_dataset_items}",
)


@router.post("/embed/search", response_model=SearchResponse, openapi_extra=SEARCH_BODY.openapi)
async def search_route(
    models: ModelPool = Depends(get_models),
    settings: Settings = Depends(get_settings),
    body: SearchRequest = Depends(SEARCH_BODY),
) -> SearchResponse:
    """Rank up to 10,000 posted images by similarity to an image or text query; best ``top_k`` first."""
    model = await models.get_async(body.model)
    result = await search_dataset(model, body.query_input(), body.dataset_sources(), body.top_k, settings)
    return search_answer(model.info, result)
