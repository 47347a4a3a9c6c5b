"""Dedup and cluster over a posted set or a stored collection, the one-image duplicate check, and jobs."""

from __future__ import annotations

from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pixembed.api.auth import AuthFirstRoute, require_scope
from pixembed.api.dedup_schemas import (
    ClusterOptions,
    ClusterRequest,
    DedupOptions,
    DedupRequest,
    DuplicateCheck,
    DuplicateCheckOut,
    DuplicateMatchOut,
    JobOut,
)
from pixembed.api.errors import error_body
from pixembed.api.inputs import Decoded
from pixembed.api.results import clustering_body, dedup_body
from pixembed.api.schemas import to_source
from pixembed.api.state import get_model, get_settings, get_store
from pixembed.config import Settings
from pixembed.runtime.model import ClipModel
from pixembed.services.analysis import (
    ClusterReport,
    Progress,
    catalogue_from_sources,
    check_duplicate,
    cluster_catalogue,
    dedup_inputs,
)
from pixembed.services.catalogue import catalogue_from_store
from pixembed.services.dedup import Catalogue, find_duplicates
from pixembed.services.jobs import Job, JobRunner
from pixembed.store import VectorStore
from pixembed.store.job_records import JobRecords, jobs_location

router = APIRouter(
    prefix="/v1",
    tags=["dedup"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)
ModelT = TypeVar("ModelT", bound=BaseModel)


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


def _posted(model: type[ModelT]) -> Decoded[ModelT]:
    return Decoded(
        model,
        max_files=lambda s: s.max_dataset_items,
        too_many=lambda s: f"too many images; one request takes at most {s.max_dataset_items}",
    )


DEDUP_BODY = _posted(DedupRequest)
CLUSTER_BODY = _posted(ClusterRequest)
COLLECTION_DEDUP_BODY = Decoded(DedupOptions, max_files=lambda s: 0)
COLLECTION_CLUSTER_BODY = Decoded(ClusterOptions, max_files=lambda s: 0)
CHECK_BODY = Decoded(DuplicateCheck, max_files=lambda s: 1)


def _accepted(job: Job) -> JSONResponse:
    return JSONResponse({"job_id": job.id, "status_url": f"/v1/jobs/{job.id}"}, status_code=202)


@router.post("/dedup", openapi_extra=DEDUP_BODY.openapi)
async def dedup_route(
    model: ClipModel = Depends(get_model),
    settings: Settings = Depends(get_settings),
    body: DedupRequest = Depends(DEDUP_BODY),
) -> dict[str, Any]:
    """Duplicate pairs, groups, keepers and the drop list of a posted set of images (ids are "0", "1"...)."""
    sources = [to_source(ref) for ref in body.images]
    hashes, vectors = dedup_inputs(body.method)
    cat = await catalogue_from_sources(
        sources, settings, hash_methods=hashes, model=model if vectors else None
    )
    result = await anyio.to_thread.run_sync(
        lambda: find_duplicates(cat, body.method, body.hash_threshold, body.similarity_threshold, body.keep)
    )
    return dedup_body(cat, result)


@router.post("/cluster", openapi_extra=CLUSTER_BODY.openapi)
async def cluster_route(
    model: ClipModel = Depends(get_model),
    settings: Settings = Depends(get_settings),
    body: ClusterRequest = Depends(CLUSTER_BODY),
) -> dict[str, Any]:
    """Clusters (k-means, HDBSCAN or threshold), labels and a 2-D map of a posted set of images."""
    sources = [to_source(ref) for ref in body.images]
    cat = await catalogue_from_sources(sources, settings, hash_methods=[], model=model)
    report = await anyio.to_thread.run_sync(lambda: _cluster(cat, model, body, settings))
    return clustering_body(cat, report, body.method)


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
        body.method,
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


@router.post("/collections/{name}/dedup", response_model=None, openapi_extra=COLLECTION_DEDUP_BODY.openapi)
async def collection_dedup_route(
    name: str,
    request: Request,
    store: VectorStore = Depends(get_store),
    settings: Settings = Depends(get_settings),
    body: DedupOptions = Depends(COLLECTION_DEDUP_BODY),
) -> Any:
    """Duplicates among a collection's items; 202 with a job for large collections or ``background``."""
    method, keep = body.method, body.keep

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
        return dedup_body(cat, result)

    return await _run_or_submit(request, name, store, settings, body.background, "dedup", work)


@router.post(
    "/collections/{name}/cluster", response_model=None, openapi_extra=COLLECTION_CLUSTER_BODY.openapi
)
async def collection_cluster_route(
    name: str,
    request: Request,
    model: ClipModel = Depends(get_model),
    store: VectorStore = Depends(get_store),
    settings: Settings = Depends(get_settings),
    body: ClusterOptions = Depends(COLLECTION_CLUSTER_BODY),
) -> Any:
    """Clusters of a collection's items; 202 with a job for large collections or ``background``."""
    method = body.method

    def work(progress: Any) -> dict[str, Any]:
        cat = catalogue_from_store(store, name, settings.max_dedup_items, lambda f: progress(0.2 * f))
        report = _cluster(cat, model, body, settings, lambda f: progress(0.2 + 0.8 * f))
        return clustering_body(cat, report, method)

    return await _run_or_submit(request, name, store, settings, body.background, "cluster", work)


@router.post(
    "/collections/{name}/duplicates/check",
    response_model=DuplicateCheckOut,
    openapi_extra=CHECK_BODY.openapi,
)
async def check_route(
    name: str,
    model: ClipModel = Depends(get_model),
    store: VectorStore = Depends(get_store),
    settings: Settings = Depends(get_settings),
    body: DuplicateCheck = Depends(CHECK_BODY),
) -> DuplicateCheckOut:
    """Is this image a duplicate of anything stored? By cosine, and by pHash when hash_threshold is given."""
    matches = await check_duplicate(
        store, model, name, to_source(body.image), settings, body.similarity_threshold, body.hash_threshold
    )
    return DuplicateCheckOut(
        is_duplicate=bool(matches),
        matches=[DuplicateMatchOut(id=m.id, similarity=m.similarity, distance=m.distance) for m in matches],
    )


@router.get("/jobs/{job_id}", response_model=JobOut)
async def job_route(job_id: str, request: Request) -> JobOut:
    """A job's status, progress (0..1), and its result or error once finished."""
    job = get_jobs(request).get(job_id)
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=round(job.progress, 4),
        result=job.result if job.status == "done" else None,
        error=error_body(job.error) if job.error is not None else None,
    )
