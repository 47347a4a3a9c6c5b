"""/v1/collections: create, list, get, delete; add, get and delete items; search."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from pixembed.api.auth import AuthFirstRoute, require_scope, scope_by_route
from pixembed.api.collection_schemas import AddItems, CreateCollection, SearchCollection
from pixembed.api.inputs import Decoded
from pixembed.api.results import added_answer, matches_answer
from pixembed.api.state import get_collections, get_detector, get_settings
from pixembed.config import Settings
from pixembed.services.collection_service import CollectionService
from pixembed.services.collections import RegionOptions
from pixembed.services.detection import resolve_classes
from pixembed.wire import AddItemsOut, CollectionList, CollectionOut, ErrorBody, ItemOut, SearchCollectionOut

# Collection routes that change data; every other collection route (GET, search) reads.
COLLECTION_SCOPES = scope_by_route(
    {("POST", "/v1/collections"), ("POST", "/v1/collections/{name}/items"), ("DELETE", "*")}
)
router = APIRouter(
    prefix="/v1/collections",
    tags=["collections"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope(COLLECTION_SCOPES))],
)


@router.post("", response_model=CollectionOut, status_code=201)
async def create_route(
    body: CreateCollection,
    collections: CollectionService = Depends(get_collections),
) -> CollectionOut:
    """Create a collection for the vectors of ``model`` (default: the server's default model)."""
    return CollectionOut.model_validate(await collections.create(body.name, body.model))


@router.get("", response_model=CollectionList)
async def list_route(collections: CollectionService = Depends(get_collections)) -> CollectionList:
    """Every collection with its count."""
    infos = await collections.list_collections()
    return CollectionList(data=[CollectionOut.model_validate(info) for info in infos])


@router.get("/{name}", response_model=CollectionOut)
async def get_route(name: str, collections: CollectionService = Depends(get_collections)) -> CollectionOut:
    """One collection: model, dimensions, count."""
    return CollectionOut.model_validate(await collections.get(name))


@router.delete("/{name}", status_code=204)
async def delete_route(name: str, collections: CollectionService = Depends(get_collections)) -> Response:
    """Drop a collection and all its items."""
    await collections.delete(name)
    return Response(status_code=204)


ADD_ITEMS_BODY = Decoded(AddItems, max_files=lambda s: s.max_batch_items)
SEARCH_BODY = Decoded(SearchCollection, max_files=lambda s: 1)


async def _region_options(request: Request, body: AddItems, settings: Settings) -> RegionOptions | None:
    """How the items that ask for regions get them: the server's detector, looking for the body's classes."""
    if not body.wants_regions():
        return None
    classes = resolve_classes(body.region_classes, settings)
    return RegionOptions(await get_detector(request), classes, body.region_top_k)


@router.post(
    "/{name}/items",
    response_model=AddItemsOut,
    response_model_exclude_none=True,
    openapi_extra=ADD_ITEMS_BODY.openapi,
)
async def add_items_route(
    name: str,
    request: Request,
    collections: CollectionService = Depends(get_collections),
    settings: Settings = Depends(get_settings),
    body: AddItems = Depends(ADD_ITEMS_BODY),
) -> AddItemsOut:
    """Add or replace items (by id): image files, or JSON with images or vectors; answered once durable."""
    added = await collections.add(
        name,
        body.new_items(),
        requested=body.model,
        regions=await _region_options(request, body, settings),
    )
    return added_answer(added.info, added.items)


# ``:path`` so that ids holding '/' (``pixembed index`` stores relative paths) reach the item routes; this
# one comes first, so that a GET ending in /thumbnail is never read as an item id.
@router.get(
    "/{name}/items/{item_id:path}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorBody}},
)
async def thumbnail_route(
    name: str, item_id: str, collections: CollectionService = Depends(get_collections)
) -> Response:
    """A stored item's thumbnail (at most 256 px a side); 404 for a missing item or one added as a bare
    vector."""
    data, media_type = await collections.thumbnail(name, item_id)
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, no-cache"})


@router.get("/{name}/items/{item_id:path}", response_model=ItemOut, response_model_exclude_none=True)
async def get_item_route(
    name: str,
    item_id: str,
    include_vector: bool = False,
    collections: CollectionService = Depends(get_collections),
) -> ItemOut:
    """One stored item's metadata (and vector with ``?include_vector=true``)."""
    record = await collections.item(name, item_id)
    return ItemOut(id=record.id, metadata=record.metadata, vector=record.vector if include_vector else None)


@router.delete("/{name}/items/{item_id:path}", status_code=204)
async def delete_item_route(
    name: str, item_id: str, collections: CollectionService = Depends(get_collections)
) -> Response:
    """Delete one item; 404 if it does not exist."""
    await collections.delete_item(name, item_id)
    return Response(status_code=204)


@router.post("/{name}/search", response_model=SearchCollectionOut, openapi_extra=SEARCH_BODY.openapi)
async def search_route(
    name: str,
    collections: CollectionService = Depends(get_collections),
    body: SearchCollection = Depends(SEARCH_BODY),
) -> SearchCollectionOut:
    """Search by text, image, vector or a stored id, with top_k and a metadata filter; a text or image
    query is embedded by the collection's own model."""
    found = await collections.search(name, body.query(), body.top_k, body.filter, body.model)
    return matches_answer(found.info, found.matches)
