"""Dedup, cluster, duplicate checks, detection and regions as sans-I/O operations (see ``protocol``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pixembed.client.analysis import ClusterResult, DedupResult, DetectResult, DuplicateCheck, RegionsResult
from pixembed.client.inputs import ImageInput, image_ref, image_refs
from pixembed.client.operations import ProgressCallback, wait_for_job
from pixembed.client.protocol import Call, Operation, segment
from pixembed.client.types import Job, Json

DedupMethod = Literal["phash", "dhash", "ahash", "whash", "semantic", "combined"]
ClusterMethod = Literal["kmeans", "hdbscan", "threshold"]


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _job_or_result(
    reply: Json, wait: bool, on_progress: ProgressCallback | None, timeout: float
) -> Operation[Json | Job]:
    """A 200 body as it is; a 202 job waited for (its result) or, with ``wait=False``, the queued job."""
    if "job_id" not in reply:
        return reply
    if not wait:
        return Job(str(reply["job_id"]), "", "queued", 0.0, None, None)
    return (yield from wait_for_job(str(reply["job_id"]), on_progress=on_progress, timeout=timeout))


def _dedup_body(
    method: DedupMethod, hash_threshold: int | None, similarity_threshold: float | None, keep: str | None
) -> dict[str, Any]:
    return _drop_none(
        {
            "method": method,
            "hash_threshold": hash_threshold,
            "similarity_threshold": similarity_threshold,
            "keep": keep,
        }
    )


def dedup(
    images: Sequence[ImageInput],
    *,
    method: DedupMethod = "combined",
    hash_threshold: int | None = None,
    similarity_threshold: float | None = None,
    keep: Literal["resolution", "size", "oldest"] | None = None,
) -> Operation[DedupResult]:
    """Duplicate groups among posted images (ids are their positions as strings)."""
    body = {"images": image_refs(images), **_dedup_body(method, hash_threshold, similarity_threshold, keep)}
    return DedupResult.from_json((yield Call("POST", "/v1/dedup", body)))


def dedup_collection(
    collection: str,
    *,
    method: DedupMethod = "combined",
    hash_threshold: int | None = None,
    similarity_threshold: float | None = None,
    keep: Literal["resolution", "size", "oldest"] | None = None,
    background: bool = False,
    wait: bool = True,
    on_progress: ProgressCallback | None = None,
    timeout: float = 600.0,
) -> Operation[DedupResult | Job]:
    """Duplicate groups in a collection; a background job is waited for unless ``wait=False``."""
    body = _dedup_body(method, hash_threshold, similarity_threshold, keep)
    if background:
        body["background"] = True
    reply = yield Call("POST", f"/v1/collections/{segment(collection)}/dedup", body)
    result = yield from _job_or_result(reply, wait, on_progress, timeout)
    return result if isinstance(result, Job) else DedupResult.from_json(result)


def _cluster_body(
    method: ClusterMethod,
    k: int | None,
    threshold: float | None,
    labels: Sequence[str] | None,
    label_threshold: float | None,
    known_labels: Mapping[str, str] | None,
) -> dict[str, Any]:
    return _drop_none(
        {
            "method": method,
            "k": k,
            "threshold": threshold,
            "labels": list(labels) if labels is not None else None,
            "label_threshold": label_threshold,
            "known_labels": dict(known_labels) if known_labels is not None else None,
        }
    )


def cluster(
    images: Sequence[ImageInput],
    *,
    method: ClusterMethod = "kmeans",
    k: int | None = None,
    threshold: float | None = None,
    labels: Sequence[str] | None = None,
    label_threshold: float | None = None,
    known_labels: Mapping[str, str] | None = None,
) -> Operation[ClusterResult]:
    """Cluster posted images (optionally naming each cluster from ``labels``), with a 2-D map."""
    body = {
        "images": image_refs(images),
        **_cluster_body(method, k, threshold, labels, label_threshold, known_labels),
    }
    return ClusterResult.from_json((yield Call("POST", "/v1/cluster", body)))


def cluster_collection(
    collection: str,
    *,
    method: ClusterMethod = "kmeans",
    k: int | None = None,
    threshold: float | None = None,
    labels: Sequence[str] | None = None,
    label_threshold: float | None = None,
    known_labels: Mapping[str, str] | None = None,
    background: bool = False,
    wait: bool = True,
    on_progress: ProgressCallback | None = None,
    timeout: float = 600.0,
) -> Operation[ClusterResult | Job]:
    """Cluster a collection; a background job is waited for unless ``wait=False``."""
    body = _cluster_body(method, k, threshold, labels, label_threshold, known_labels)
    if background:
        body["background"] = True
    reply = yield Call("POST", f"/v1/collections/{segment(collection)}/cluster", body)
    result = yield from _job_or_result(reply, wait, on_progress, timeout)
    return result if isinstance(result, Job) else ClusterResult.from_json(result)


def check_duplicate(
    collection: str,
    image: ImageInput,
    *,
    similarity_threshold: float | None = None,
    hash_threshold: int | None = None,
) -> Operation[DuplicateCheck]:
    """Whether ``image`` duplicates an item already in the collection."""
    body = _drop_none(
        {
            "image": image_ref(image),
            "similarity_threshold": similarity_threshold,
            "hash_threshold": hash_threshold,
        }
    )
    path = f"/v1/collections/{segment(collection)}/duplicates/check"
    return DuplicateCheck.from_json((yield Call("POST", path, body)))


def detect(
    image: ImageInput,
    classes: Sequence[str] | Literal["fashion"] = "fashion",
    *,
    top_k: int = 10,
    threshold: float | None = None,
    return_image: bool = False,
) -> Operation[DetectResult]:
    """Objects of the named ``classes`` (or the fashion set) in an image, with boxes and scores."""
    body = _drop_none(
        {
            "image": image_ref(image),
            "classes": classes if isinstance(classes, str) else list(classes),
            "top_k": top_k,
            "threshold": threshold,
            "return_image": return_image,
        }
    )
    return DetectResult.from_json((yield Call("POST", "/v1/detect", body)))


def embed_regions(
    image: ImageInput,
    boxes: Sequence[Sequence[float]] | None = None,
    *,
    label_set: Literal["fashion"] | None = None,
    labels: Sequence[str] | None = None,
    texts: Sequence[str] | None = None,
) -> Operation[RegionsResult]:
    """A vector per region (the given boxes, or detected ones), with tags and text relevance."""
    body = _drop_none(
        {
            "image": image_ref(image),
            "boxes": [[float(v) for v in b] for b in boxes] if boxes is not None else None,
            "label_set": label_set,
            "labels": list(labels) if labels is not None else None,
            "texts": list(texts) if texts is not None else None,
        }
    )
    return RegionsResult.from_json((yield Call("POST", "/v1/embed/regions", body)))
