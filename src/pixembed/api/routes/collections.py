"""/v1/collections: create, list, get, delete; add, get and delete items; search."""

from __future__ import annotations

from typing import Any

import anyio
import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Depends, Request, Response

from pixembed.api.auth import AuthFirstRoute, require_scope, scope_by_route
from pixembed.api.bodies import is_multipart, read_form, read_json
from pixembed.api.collection_schemas import AddItems, CreateCollection, SearchCollection
from pixembed.api.json_limits import parse_json
from pixembed.api.openapi import body_doc
from pixembed.api.requests import form_image_sources, form_int, form_model, form_texts, parse_body
from pixembed.api.results import added_answer, matches_answer
from pixembed.api.schemas import to_source
from pixembed.api.state import get_detector, get_models, get_settings, get_store, get_thumbnails
from pixembed.config import Settings
from pixembed.errors import InvalidRequest
from pixembed.runtime.pool import ModelPool
from pixembed.services.collections import (
    NewItem,
    Query,
    RegionOptions,
    add_items,
    collection_model,
    create_collection,
    search_collection,
)
from pixembed.services.detection import resolve_classes
from pixembed.services.thumbnails import thumbnail_of
from pixembed.store import VectorStore, parse_filter
from pixembed.store.thumbnails import ThumbnailStore
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


def _json_field(raw: str, what: str) -> Any:
    return parse_json(raw, what)


def _vector(values: list[float]) -> npt.NDArray[np.float32]:
    return np.asarray(values, dtype=np.float32)


@router.post("", response_model=CollectionOut, status_code=201)
async def create_route(
    body: CreateCollection,
    models: ModelPool = Depends(get_models),
    store: VectorStore = Depends(get_store),
) -> CollectionOut:
    """Create a collection for the vectors of ``model`` (default: the server's default model)."""
    model = await models.get_async(body.model)
    return CollectionOut.model_validate(
        await anyio.to_thread.run_sync(create_collection, store, model, body.name)
    )


@router.get("", response_model=CollectionList)
async def list_route(store: VectorStore = Depends(get_store)) -> CollectionList:
    """Every collection with its count."""
    infos = await anyio.to_thread.run_sync(store.list_collections)
    return CollectionList(data=[CollectionOut.model_validate(info) for info in infos])


@router.get("/{name}", response_model=CollectionOut)
async def get_route(name: str, store: VectorStore = Depends(get_store)) -> CollectionOut:
    """One collection: model, dimensions, count."""
    return CollectionOut.model_validate(await anyio.to_thread.run_sync(store.get_collection, name))


@router.delete("/{name}", status_code=204)
async def delete_route(
    name: str, store: VectorStore = Depends(get_store), thumbnails: ThumbnailStore = Depends(get_thumbnails)
) -> Response:
    """Drop a collection and all its items."""
    await anyio.to_thread.run_sync(store.delete_collection, name)
    await anyio.to_thread.run_sync(thumbnails.delete_collection, name)
    return Response(status_code=204)


async def _items_from_form(request: Request, settings: Settings) -> tuple[list[NewItem], str | None]:
    form = await read_form(
        request, max_files=settings.max_batch_items, max_file_bytes=settings.max_upload_bytes
    )
    images = await form_image_sources(form, "image")
    ids = form_texts(form, "id")
    metadata = [_json_field(m, "metadata") for m in form_texts(form, "metadata")]
    if ids and len(ids) != len(images):
        raise InvalidRequest(f"{len(ids)} 'id' fields for {len(images)} images: send one per image, in order")
    if len(metadata) not in (0, 1, len(images)):
        raise InvalidRequest("send one 'metadata' JSON field per image, in order, or one for all")
    items = []
    for i, image in enumerate(images):
        meta = metadata[i] if len(metadata) == len(images) else (metadata[0] if metadata else {})
        if not isinstance(meta, dict):
            raise InvalidRequest("metadata must be a JSON object")
        items.append(NewItem(image=image, id=ids[i] if ids else None, metadata=meta))
    return items, form_model(form)


def _items_from_json(body: AddItems) -> list[NewItem]:
    items = []
    for i, item in enumerate(body.items):
        if (item.image is None) == (item.vector is None):
            raise InvalidRequest(f"item {i}: give exactly one of image or vector")
        vector = _vector(item.vector) if item.vector is not None else None
        image = to_source(item.image) if item.image is not None else None
        regions = body.regions if item.regions is None else item.regions
        items.append(NewItem(image=image, vector=vector, id=item.id, metadata=item.metadata, regions=regions))
    return items


ADD_ITEMS_BODY = body_doc(
    AddItems,
    {
        "image": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "id": {"type": "array", "items": {"type": "string"}},
        "metadata": {"type": "array", "items": {"type": "string", "description": "a JSON object per image"}},
    },
)
SEARCH_BODY = body_doc(
    SearchCollection,
    {
        "image": {"type": "string", "format": "binary"},
        "text": {"type": "string"},
        "top_k": {"type": "integer", "minimum": 1, "maximum": 1000},
        "filter": {"type": "string", "description": "a JSON filter object"},
        "box": {"type": "string", "description": "[x1, y1, x2, y2] as JSON: search by that region of image"},
    },
)


@router.post(
    "/{name}/items",
    response_model=AddItemsOut,
    response_model_exclude_none=True,
    openapi_extra=ADD_ITEMS_BODY,
)
async def add_items_route(
    name: str,
    request: Request,
    models: ModelPool = Depends(get_models),
    store: VectorStore = Depends(get_store),
    settings: Settings = Depends(get_settings),
    thumbnails: ThumbnailStore = Depends(get_thumbnails),
) -> AddItemsOut:
    """Add or replace items (by id): image files, or JSON with images or vectors; answered once durable."""
    info = await anyio.to_thread.run_sync(store.get_collection, name)
    region_options = None
    if is_multipart(request):
        items, requested = await _items_from_form(request, settings)
    else:
        body = parse_body(AddItems, await read_json(request))
        items, requested = _items_from_json(body), body.model
        if any(item.regions for item in items):
            classes = resolve_classes(body.region_classes, settings)
            region_options = RegionOptions(await get_detector(request), classes, body.region_top_k)
    model = await collection_model(models, info, requested)
    results = await add_items(store, model, name, items, settings, thumbnails, regions=region_options)
    return added_answer(info, results)


# ``:path`` so that ids holding '/' (``pixembed index`` stores relative paths) reach the item routes; this
# one comes first, so that a GET ending in /thumbnail is never read as an item id.
@router.get(
    "/{name}/items/{item_id:path}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorBody}},
)
async def thumbnail_route(
    name: str,
    item_id: str,
    store: VectorStore = Depends(get_store),
    thumbnails: ThumbnailStore = Depends(get_thumbnails),
) -> Response:
    """A stored item's thumbnail (at most 256 px a side); 404 for a missing item or one added as a bare
    vector."""
    data, media_type = await anyio.to_thread.run_sync(thumbnail_of, thumbnails, store, name, item_id)
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, no-cache"})


@router.get("/{name}/items/{item_id:path}", response_model=ItemOut, response_model_exclude_none=True)
async def get_item_route(
    name: str, item_id: str, include_vector: bool = False, store: VectorStore = Depends(get_store)
) -> ItemOut:
    """One stored item's metadata (and vector with ``?include_vector=true``)."""
    record = await anyio.to_thread.run_sync(store.get, name, item_id)
    return ItemOut(id=record.id, metadata=record.metadata, vector=record.vector if include_vector else None)


@router.delete("/{name}/items/{item_id:path}", status_code=204)
async def delete_item_route(
    name: str,
    item_id: str,
    store: VectorStore = Depends(get_store),
    thumbnails: ThumbnailStore = Depends(get_thumbnails),
) -> Response:
    """Delete one item; 404 if it does not exist."""
    if await anyio.to_thread.run_sync(store.delete, name, [item_id]) == 0:
        await anyio.to_thread.run_sync(store.get, name, item_id)  # raises the NotFound with its message
    await anyio.to_thread.run_sync(thumbnails.delete, name, [item_id])
    return Response(status_code=204)


async def _query_from_form(request: Request, settings: Settings) -> tuple[Query, int, Any, str | None]:
    form = await read_form(request, max_files=1, max_file_bytes=settings.max_upload_bytes)
    images = await form_image_sources(form, "image")
    texts = form_texts(form, "text")
    raw_filter = form_texts(form, "filter")
    where = _json_field(raw_filter[0], "filter") if raw_filter else None
    raw_box = form_texts(form, "box")
    box = _json_field(raw_box[0], "box") if raw_box else None
    if box is not None and not (
        isinstance(box, list) and len(box) == 4 and all(isinstance(v, int) for v in box)
    ):
        raise InvalidRequest("box must be a JSON list of four integers [x1, y1, x2, y2]")
    query = Query(text=texts[0] if texts else None, image=images[0] if images else None, box=box)
    return query, form_int(form, "top_k", 10), where, form_model(form)


@router.post("/{name}/search", response_model=SearchCollectionOut, openapi_extra=SEARCH_BODY)
async def search_route(
    name: str,
    request: Request,
    models: ModelPool = Depends(get_models),
    store: VectorStore = Depends(get_store),
    settings: Settings = Depends(get_settings),
) -> SearchCollectionOut:
    """Search by text, image, vector or a stored id, with top_k and a metadata filter."""
    if is_multipart(request):
        query, top_k, raw_filter, requested = await _query_from_form(request, settings)
    else:
        body = parse_body(SearchCollection, await read_json(request))
        query = Query(
            text=body.text,
            image=to_source(body.image) if body.image is not None else None,
            vector=_vector(body.vector) if body.vector is not None else None,
            item_id=body.id,
            box=body.box,
        )
        top_k, raw_filter, requested = body.top_k, body.filter, body.model
    if not 1 <= top_k <= 1000:
        raise InvalidRequest(f"top_k must be between 1 and 1000, got {top_k}")
    where = parse_filter(raw_filter)
    matches = await search_collection(store, models, name, query, top_k, where, settings, requested)
    info = await anyio.to_thread.run_sync(store.get_collection, name)
    return matches_answer(info, matches)
