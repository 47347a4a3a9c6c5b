"""Dedup and cluster over a posted set or a stored collection, the one-image duplicate check, and jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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
from pixembed.api.state import get_analysis, get_collections, get_model
from pixembed.runtime.model import ClipModel
from pixembed.services.analysis import ClusterReport
from pixembed.services.analysis_service import AnalysisService, Job, Submitted
from pixembed.services.collection_service import CollectionService
from pixembed.services.dedup import Catalogue

router = APIRouter(
    prefix="/v1",
    tags=["dedup"],
    route_class=AuthFirstRoute,
    dependencies=[Depends(require_scope("read"))],
)
ModelT = TypeVar("ModelT", bound=BaseModel)


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


def _clustering(method: str) -> Callable[[Catalogue, ClusterReport], dict[str, Any]]:
    return lambda cat, report: clustering_body(cat, report, method)


def _answer(outcome: dict[str, Any] | Submitted) -> Any:
    """A finished run's body, or 202 with the job that will finish it."""
    if isinstance(outcome, Submitted):
        return _accepted(outcome.job)
    return outcome


@router.post("/dedup", openapi_extra=DEDUP_BODY.openapi)
async def dedup_route(
    model: ClipModel = Depends(get_model),
    analysis: AnalysisService = Depends(get_analysis),
    body: DedupRequest = Depends(DEDUP_BODY),
) -> dict[str, Any]:
    """Duplicate pairs, groups, keepers and the drop list of a posted set of images (ids are "0", "1"...)."""
    return await analysis.dedup_images(model, body.sources(), body.run(), dedup_body)


@router.post("/cluster", openapi_extra=CLUSTER_BODY.openapi)
async def cluster_route(
    model: ClipModel = Depends(get_model),
    analysis: AnalysisService = Depends(get_analysis),
    body: ClusterRequest = Depends(CLUSTER_BODY),
) -> dict[str, Any]:
    """Clusters (k-means, HDBSCAN or threshold), labels and a 2-D map of a posted set of images."""
    return await analysis.cluster_images(model, body.sources(), body.run(), _clustering(body.method))


@router.post("/collections/{name}/dedup", response_model=None, openapi_extra=COLLECTION_DEDUP_BODY.openapi)
async def collection_dedup_route(
    name: str,
    request: Request,
    analysis: AnalysisService = Depends(get_analysis),
    body: DedupOptions = Depends(COLLECTION_DEDUP_BODY),
) -> Any:
    """Duplicates among a collection's items; 202 with a job for large collections or ``background``."""
    outcome = await analysis.dedup_collection(
        name, body.run(), dedup_body, background=body.background, owner=job_owner(request)
    )
    return _answer(outcome)


@router.post(
    "/collections/{name}/cluster", response_model=None, openapi_extra=COLLECTION_CLUSTER_BODY.openapi
)
async def collection_cluster_route(
    name: str,
    request: Request,
    model: ClipModel = Depends(get_model),
    analysis: AnalysisService = Depends(get_analysis),
    body: ClusterOptions = Depends(COLLECTION_CLUSTER_BODY),
) -> Any:
    """Clusters of a collection's items; 202 with a job for large collections or ``background``."""
    outcome = await analysis.cluster_collection(
        model,
        name,
        body.run(),
        _clustering(body.method),
        background=body.background,
        owner=job_owner(request),
    )
    return _answer(outcome)


@router.post(
    "/collections/{name}/duplicates/check",
    response_model=DuplicateCheckOut,
    openapi_extra=CHECK_BODY.openapi,
)
async def check_route(
    name: str,
    model: ClipModel = Depends(get_model),
    collections: CollectionService = Depends(get_collections),
    body: DuplicateCheck = Depends(CHECK_BODY),
) -> DuplicateCheckOut:
    """Is this image a duplicate of anything stored? By cosine, and by pHash when hash_threshold is given."""
    matches = await collections.check_duplicate(
        model, name, to_source(body.image), body.similarity_threshold, body.hash_threshold
    )
    return DuplicateCheckOut(
        is_duplicate=bool(matches),
        matches=[DuplicateMatchOut(id=m.id, similarity=m.similarity, distance=m.distance) for m in matches],
    )


@router.get("/jobs/{job_id}", response_model=JobOut)
async def job_route(job_id: str, analysis: AnalysisService = Depends(get_analysis)) -> JobOut:
    """A job's status, progress (0..1), and its result or error once finished."""
    job = await analysis.job(job_id)
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=round(job.progress, 4),
        result=job.result if job.status == "done" else None,
        error=error_body(job.error) if job.error is not None else None,
    )
