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
)
from pixembed.api.inputs import Decoded
from pixembed.api.results import (
    accepted_answer,
    clustering_answer,
    dedup_answer,
    duplicates_answer,
    job_answer,
)
from pixembed.api.schemas import to_source
from pixembed.api.state import get_analysis, get_collections
from pixembed.services.analysis import ClusterReport
from pixembed.services.analysis_service import AnalysisService, Job, Submitted
from pixembed.services.collection_service import CollectionService
from pixembed.services.dedup import Catalogue, DedupResult
from pixembed.wire import ClusteringOut, DedupOut, DuplicateCheckOut, JobAccepted, JobOut

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
    return JSONResponse(accepted_answer(job).model_dump(), status_code=202)


# A collection run answers its result (200), or a job to poll (202) when it is large or ``background``.
JOB_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": JobAccepted, "description": "queued as a background job; poll its status_url"}
}


def _clustering(method: str) -> Callable[[Catalogue, ClusterReport], ClusteringOut]:
    return lambda cat, report: clustering_answer(cat, report, method)


# A job's result is kept as JSON (the job records), so a collection run renders the wire model's JSON form.
def _dedup_json(cat: Catalogue, result: DedupResult) -> dict[str, Any]:
    return dedup_answer(cat, result).model_dump(mode="json")


def _clustering_json(method: str) -> Callable[[Catalogue, ClusterReport], dict[str, Any]]:
    return lambda cat, report: clustering_answer(cat, report, method).model_dump(mode="json")


def _answer(outcome: dict[str, Any] | Submitted) -> Any:
    """A finished run's body, or 202 with the job that will finish it."""
    if isinstance(outcome, Submitted):
        return _accepted(outcome.job)
    return outcome


@router.post("/dedup", response_model=DedupOut, openapi_extra=DEDUP_BODY.openapi)
async def dedup_route(
    analysis: AnalysisService = Depends(get_analysis),
    body: DedupRequest = Depends(DEDUP_BODY),
) -> DedupOut:
    """Duplicate pairs, groups, keepers and the drop list of a posted set of images (ids are "0", "1"...)."""
    return await analysis.dedup_images(body.sources(), body.run(), dedup_answer, body.model)


@router.post("/cluster", response_model=ClusteringOut, openapi_extra=CLUSTER_BODY.openapi)
async def cluster_route(
    analysis: AnalysisService = Depends(get_analysis),
    body: ClusterRequest = Depends(CLUSTER_BODY),
) -> ClusteringOut:
    """Clusters (k-means, HDBSCAN or threshold), labels and a 2-D map of a posted set of images."""
    return await analysis.cluster_images(body.sources(), body.run(), _clustering(body.method), body.model)


@router.post(
    "/collections/{name}/dedup",
    response_model=DedupOut,
    responses=JOB_ACCEPTED,
    openapi_extra=COLLECTION_DEDUP_BODY.openapi,
)
async def collection_dedup_route(
    name: str,
    request: Request,
    analysis: AnalysisService = Depends(get_analysis),
    body: DedupOptions = Depends(COLLECTION_DEDUP_BODY),
) -> Any:
    """Duplicates among a collection's items; 202 with a job for large collections or ``background``."""
    outcome = await analysis.dedup_collection(
        name, body.run(), _dedup_json, background=body.background, owner=job_owner(request)
    )
    return _answer(outcome)


@router.post(
    "/collections/{name}/cluster",
    response_model=ClusteringOut,
    responses=JOB_ACCEPTED,
    openapi_extra=COLLECTION_CLUSTER_BODY.openapi,
)
async def collection_cluster_route(
    name: str,
    request: Request,
    analysis: AnalysisService = Depends(get_analysis),
    body: ClusterOptions = Depends(COLLECTION_CLUSTER_BODY),
) -> Any:
    """Clusters of a collection's items (labelled by the collection's own model); 202 with a job for large
    collections or ``background``."""
    outcome = await analysis.cluster_collection(
        name,
        body.run(),
        _clustering_json(body.method),
        background=body.background,
        owner=job_owner(request),
        requested=body.model,
    )
    return _answer(outcome)


@router.post(
    "/collections/{name}/duplicates/check",
    response_model=DuplicateCheckOut,
    openapi_extra=CHECK_BODY.openapi,
)
async def check_route(
    name: str,
    collections: CollectionService = Depends(get_collections),
    body: DuplicateCheck = Depends(CHECK_BODY),
) -> DuplicateCheckOut:
    """Is this image a duplicate of anything stored? By cosine, and by pHash when hash_threshold is given."""
    matches = await collections.check_duplicate(
        name, to_source(body.image), body.similarity_threshold, body.hash_threshold, body.model
    )
    return duplicates_answer(matches)


@router.get("/jobs/{job_id}", response_model=JobOut)
async def job_route(job_id: str, analysis: AnalysisService = Depends(get_analysis)) -> JobOut:
    """A job's status, progress (0..1), and its result or error once finished."""
    return job_answer(await analysis.job(job_id))
