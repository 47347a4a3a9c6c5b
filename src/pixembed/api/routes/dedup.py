"""Dedup and cluster over a posted set or a stored collection, the one-image duplicate check, and jobs."""

from __future__ import annotations

from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.bodies import is_multipart, read_form, read_json
from pixembed.api.dedup_schemas import (
    ClusterOptions,
    ClusterRequest,
    DedupOptions,
    DedupRequest,
    DuplicateCheck,
)
from pixembed.api.json_limits import parse_json
from pixembed.api.openapi import body_doc
from pixembed.api.requests import form_image_sources, form_texts, parse_body
from pixembed.api.results import (
    accepted_answer,
    clustering_answer,
    dedup_answer,
    duplicates_answer,
    job_answer,
)
from pixembed.api.schemas import to_source
from pixembed.api.state import get_models, get_settings, get_store
from pixembed.config import Settings
from pixembed.errors import InvalidRequest, TooManyItems
from pixembed.runtime.model import ClipModel
from pixembed.runtime.pool import ModelPool
from pixembed.services.analysis import (
    ClusterReport,
    Progress,
    catalogue_from_sources,
    check_duplicate,
    cluster_catalogue,
    dedup_inputs,
)
from pixembed.services.catalogue import catalogue_from_store
from pixembed.services.clustering import check_cluster_method
from pixembed.services.collections import model_of_collection
from pixembed.services.dedup import Catalogue, check_keep, check_method, find_duplicates, resolve_thresholds
from pixembed.services.inputs import ImageSource
from pixembed.services.jobs import Job, JobRunner
from pixembed.store import VectorStore
from pixembed.store.job_records import JobRecords, jobs_location
from pixembed.wire import ClusteringOut, DedupOut, DuplicateCheckOut, JobAccepted, JobOut

router = APIRouter(
    prefix="/v1",
    tags=["dedup"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)
OptionsT = TypeVar("OptionsT", bound=BaseModel)


def get_jobs(request: Request) -> JobRunner:
    """The app's job runner, started on first use."""
    runner: JobRunner | None = getattr(request.app.state, "jobs", None)
    if runner is None:
        settings: Settings = request.app.state.settings
        records = JobRecords(jobs_location(settings.store_location, settings.data_dir))
        runner = request.app.state.jobs = JobRunner(
            workers=settings.job_workers,
            records=records,
            max_queued=settings.max_queued_jobs,
            max_queued_per_owner=settings.max_queued_jobs_per_key,
        )
    return runner


def job_owner(request: Request) -> str:
    """Whom a background job counts against: the API key that asked (its id, else its name)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return ""
    return str(principal.key_id or principal.name)


async def _posted(
    request: Request, settings: Settings, model_cls: type[OptionsT]
) -> tuple[OptionsT, list[ImageSource]]:
    """Options and images from JSON (``images``) or multipart (files under ``images``, fields as text)."""
    if not is_multipart(request):
        body = parse_body(model_cls, await read_json(request))
        return body, [to_source(ref) for ref in body.images]  # type: ignore[attr-defined]
    try:
        form = await read_form(
            request, max_files=settings.max_dataset_items, max_file_bytes=settings.max_upload_bytes
        )
    except InvalidRequest as exc:
        if "too many files" in exc.message:
            raise TooManyItems(
                f"too many images; one request takes at most {settings.max_dataset_items}"
            ) from exc
        raise
    fields: dict[str, Any] = {"images": []}
    for name in model_cls.model_fields:
        values = form_texts(form, name) if name != "images" else []
        if not values:
            continue
        if name == "labels":
            fields[name] = values
        elif name == "known_labels":
            fields[name] = parse_json(values[0], "known_labels")
        else:
            fields[name] = values[0]
    options = parse_body(model_cls, fields)
    return options, await form_image_sources(form, "images")


async def _options(request: Request, model_cls: type[OptionsT]) -> OptionsT:
    """A collection run's options: JSON, or an empty body for all defaults."""
    if not (await request.body()).strip():
        return model_cls()
    return parse_body(model_cls, await read_json(request))


FILES = {"images": {"type": "array", "items": {"type": "string", "format": "binary"}}}
DEDUP_FORM = {
    **FILES,
    "method": {"type": "string"},
    "keep": {"type": "string"},
    "hash_threshold": {"type": "integer"},
    "similarity_threshold": {"type": "number"},
}
CLUSTER_FORM = {
    **FILES,
    "method": {"type": "string"},
    "k": {"type": "integer"},
    "threshold": {"type": "number"},
    "labels": {"type": "array", "items": {"type": "string"}},
    "known_labels": {"type": "string", "description": "a JSON object"},
}
DEDUP_BODY = body_doc(DedupRequest, DEDUP_FORM)
CLUSTER_BODY = body_doc(ClusterRequest, CLUSTER_FORM)


def _accepted(job: Job) -> JSONResponse:
    return JSONResponse(accepted_answer(job).model_dump(), status_code=202)


# A collection run answers its result (200), or a job to poll (202) when it is large or ``background``.
JOB_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": JobAccepted, "description": "queued as a background job; poll its status_url"}
}


def _dedup_options(body: DedupOptions) -> None:
    """Refuse a bad method, keep rule or threshold before any work starts."""
    resolve_thresholds(check_method(body.method), body.hash_threshold, body.similarity_threshold)
    check_keep(body.keep)


@router.post("/dedup", response_model=DedupOut, openapi_extra=DEDUP_BODY)
async def dedup_route(
    request: Request, models: ModelPool = Depends(get_models), settings: Settings = Depends(get_settings)
) -> DedupOut:
    """Duplicate pairs, groups, keepers and the drop list of a posted set of images (ids are "0", "1"...)."""
    body, sources = await _posted(request, settings, DedupRequest)
    _dedup_options(body)
    method = check_method(body.method)
    hashes, vectors = dedup_inputs(method)
    models.resolve(body.model)  # an unknown model is a 400 even for a method that needs no vectors
    model = await models.get_async(body.model) if vectors else None
    cat = await catalogue_from_sources(sources, settings, hash_methods=hashes, model=model)
    result = await anyio.to_thread.run_sync(
        lambda: find_duplicates(
            cat, method, body.hash_threshold, body.similarity_threshold, check_keep(body.keep)
        )
    )
    return dedup_answer(cat, result)


@router.post("/cluster", response_model=ClusteringOut, openapi_extra=CLUSTER_BODY)
async def cluster_route(
    request: Request, models: ModelPool = Depends(get_models), settings: Settings = Depends(get_settings)
) -> ClusteringOut:
    """Clusters (k-means, HDBSCAN or threshold), labels and a 2-D map of a posted set of images."""
    body, sources = await _posted(request, settings, ClusterRequest)
    method = check_cluster_method(body.method)
    model = await models.get_async(body.model)
    cat = await catalogue_from_sources(sources, settings, hash_methods=[], model=model)
    report = await anyio.to_thread.run_sync(lambda: _cluster(cat, model, body, settings))
    return clustering_answer(cat, report, method)


def _cluster(
    cat: Catalogue,
    model: ClipModel,
    body: ClusterOptions,
    settings: Settings,
    progress: Progress | None = None,
) -> ClusterReport:
    return cluster_catalogue(
        cat,
        model,
        check_cluster_method(body.method),
        k=body.k,
        threshold=body.threshold,
        min_cluster_size=body.min_cluster_size,
        labels=body.labels,
        label_threshold=body.label_threshold,
        known_labels=body.known_labels,
        settings=settings,
        on_progress=progress or (lambda _: None),
    )


async def _run_or_submit(
    request: Request,
    name: str,
    store: VectorStore,
    settings: Settings,
    background: bool,
    kind: str,
    work: Any,
) -> Any:
    info = await anyio.to_thread.run_sync(store.get_collection, name)
    if background or info.count > settings.dedup_background_items:
        return _accepted(get_jobs(request).submit(kind, work, owner=job_owner(request)))
    return await anyio.to_thread.run_sync(work, lambda _: None)


@router.post(
    "/collections/{name}/dedup",
    response_model=DedupOut,
    responses=JOB_ACCEPTED,
    openapi_extra=body_doc(DedupOptions),
)
async def collection_dedup_route(
    name: str,
    request: Request,
    store: VectorStore = Depends(get_store),
    settings: Settings = Depends(get_settings),
) -> Any:
    """Duplicates among a collection's items; 202 with a job for large collections or ``background``."""
    body = await _options(request, DedupOptions)
    _dedup_options(body)
    method, keep = check_method(body.method), check_keep(body.keep)

    def work(progress: Any) -> dict[str, Any]:
        cat = catalogue_from_store(store, name, settings.max_dedup_items, lambda f: progress(0.2 * f))
        result = find_duplicates(
            cat,
            method,
            body.hash_threshold,
            body.similarity_threshold,
            keep,
            lambda f: progress(0.2 + 0.8 * f),
        )
        # A job's result is kept as JSON (JobRecords), so work answers the wire model's JSON form.
        return dedup_answer(cat, result).model_dump(mode="json")

    return await _run_or_submit(request, name, store, settings, body.background, "dedup", work)


@router.post(
    "/collections/{name}/cluster",
    response_model=ClusteringOut,
    responses=JOB_ACCEPTED,
    openapi_extra=body_doc(ClusterOptions),
)
async def collection_cluster_route(
    name: str,
    request: Request,
    models: ModelPool = Depends(get_models),
    store: VectorStore = Depends(get_store),
    settings: Settings = Depends(get_settings),
) -> Any:
    """Clusters of a collection's items (labelled by the collection's own model); 202 with a job for large
    collections or ``background``."""
    body = await _options(request, ClusterOptions)
    method = check_cluster_method(body.method)
    model = await model_of_collection(store, models, name, body.model)

    def work(progress: Any) -> dict[str, Any]:
        cat = catalogue_from_store(store, name, settings.max_dedup_items, lambda f: progress(0.2 * f))
        report = _cluster(cat, model, body, settings, lambda f: progress(0.2 + 0.8 * f))
        return clustering_answer(cat, report, method).model_dump(mode="json")

    return await _run_or_submit(request, name, store, settings, body.background, "cluster", work)


@router.post(
    "/collections/{name}/duplicates/check",
    response_model=DuplicateCheckOut,
    openapi_extra=body_doc(DuplicateCheck),
)
async def check_route(
    name: str,
    request: Request,
    models: ModelPool = Depends(get_models),
    store: VectorStore = Depends(get_store),
    settings: Settings = Depends(get_settings),
) -> DuplicateCheckOut:
    """Is this image a duplicate of anything stored? By cosine, and by pHash when hash_threshold is given."""
    body = parse_body(DuplicateCheck, await read_json(request))
    model = await model_of_collection(store, models, name, body.model)
    matches = await check_duplicate(
        store, model, name, to_source(body.image), settings, body.similarity_threshold, body.hash_threshold
    )
    return duplicates_answer(matches)


@router.get("/jobs/{job_id}", response_model=JobOut)
async def job_route(job_id: str, request: Request) -> JobOut:
    """A job's status, progress (0..1), and its result or error once finished."""
    return job_answer(get_jobs(request).get(job_id))
