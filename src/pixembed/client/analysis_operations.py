"""Dedup, cluster, duplicate checks, detection and regions as sans-I/O operations (see ``protocol``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

from pixembed.client.inputs import ImageInput, image_ref, image_refs
from pixembed.client.operations import ProgressCallback, drop_none, wait_for_job
from pixembed.client.protocol import Call, Json, Operation, segment
from pixembed.errors import PixembedError
from pixembed.wire import (
    ClusteringOut,
    DedupOut,
    DetectResponse,
    DuplicateCheckOut,
    JobAccepted,
    JobOut,
    RegionsResponse,
)

DedupMethod = Literal["phash", "dhash", "ahash", "whash", "semantic", "combined"]
ClusterMethod = Literal["kmeans", "hdbscan", "threshold"]
AnswerT = TypeVar("AnswerT", DedupOut, ClusteringOut)


def _answer_or_job(
    reply: Json, answer: type[AnswerT], wait: bool, on_progress: ProgressCallback | None, timeout: float
) -> Operation[AnswerT | JobOut]:
    """A 200 answer parsed; a 202 job waited for (its result) or, with ``wait=False``, the queued job."""
    if "job_id" not in reply:
        return answer.model_validate(reply)
    accepted = JobAccepted.model_validate(reply)
    if not wait:
        kind = "dedup" if answer is DedupOut else "cluster"
        return JobOut(id=accepted.job_id, kind=kind, status="queued", progress=0.0)
    result = yield from wait_for_job(accepted.job_id, on_progress=on_progress, timeout=timeout)
    if not isinstance(result, answer):
        raise PixembedError(f"job {accepted.job_id} answered {type(result).__name__}, not {answer.__name__}")
    return result


def _run_on_collection(
    collection: str,
    body: dict[str, Any],
    answer: type[AnswerT],
    background: bool,
    wait: bool,
    on_progress: ProgressCallback | None,
    timeout: float,
) -> Operation[AnswerT | JobOut]:
    """POST a dedup or cluster run of a collection (``background``: as a job) and take its answer."""
    action = "dedup" if answer is DedupOut else "cluster"
    reply = yield Call(
        "POST",
        f"/v1/collections/{segment(collection)}/{action}",
        {**body, "background": True} if background else body,
    )
    return (yield from _answer_or_job(reply, answer, wait, on_progress, timeout))


def _dedup_body(
    method: DedupMethod, hash_threshold: int | None, similarity_threshold: float | None, keep: str | None
) -> dict[str, Any]:
    return drop_none(
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
) -> Operation[DedupOut]:
    """Duplicate groups among posted images (ids are their positions as strings)."""
    body = {"images": image_refs(images), **_dedup_body(method, hash_threshold, similarity_threshold, keep)}
    return DedupOut.model_validate((yield Call("POST", "/v1/dedup", body)))


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
) -> Operation[DedupOut | JobOut]:
    """Duplicate groups in a collection; a background job is waited for unless ``wait=False``."""
    body = _dedup_body(method, hash_threshold, similarity_threshold, keep)
    return (yield from _run_on_collection(collection, body, DedupOut, background, wait, on_progress, timeout))


def _cluster_body(
    method: ClusterMethod,
    k: int | None,
    threshold: float | None,
    labels: Sequence[str] | None,
    label_threshold: float | None,
    known_labels: Mapping[str, str] | None,
) -> dict[str, Any]:
    return drop_none(
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
) -> Operation[ClusteringOut]:
    """Cluster posted images (optionally naming each cluster from ``labels``), with a 2-D map."""
    body = {
        "images": image_refs(images),
        **_cluster_body(method, k, threshold, labels, label_threshold, known_labels),
    }
    return ClusteringOut.model_validate((yield Call("POST", "/v1/cluster", body)))


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
) -> Operation[ClusteringOut | JobOut]:
    """Cluster a collection; a background job is waited for unless ``wait=False``."""
    body = _cluster_body(method, k, threshold, labels, label_threshold, known_labels)
    return (
        yield from _run_on_collection(collection, body, ClusteringOut, background, wait, on_progress, timeout)
    )


def check_duplicate(
    collection: str,
    image: ImageInput,
    *,
    similarity_threshold: float | None = None,
    hash_threshold: int | None = None,
) -> Operation[DuplicateCheckOut]:
    """Whether ``image`` duplicates an item already in the collection."""
    body = drop_none(
        {
            "image": image_ref(image),
            "similarity_threshold": similarity_threshold,
            "hash_threshold": hash_threshold,
        }
    )
    path = f"/v1/collections/{segment(collection)}/duplicates/check"
    return DuplicateCheckOut.model_validate((yield Call("POST", path, body)))


def detect(
    image: ImageInput,
    classes: Sequence[str] | Literal["fashion"] = "fashion",
    *,
    top_k: int = 10,
    threshold: float | None = None,
    return_image: bool = False,
) -> Operation[DetectResponse]:
    """Objects of the named ``classes`` (or the fashion set) in an image, with boxes and scores."""
    body = drop_none(
        {
            "image": image_ref(image),
            "classes": classes if isinstance(classes, str) else list(classes),
            "top_k": top_k,
            "threshold": threshold,
            "return_image": return_image,
        }
    )
    return DetectResponse.model_validate((yield Call("POST", "/v1/detect", body)))


def embed_regions(
    image: ImageInput,
    boxes: Sequence[Sequence[float]] | None = None,
    *,
    label_set: Literal["fashion"] | None = None,
    labels: Sequence[str] | None = None,
    texts: Sequence[str] | None = None,
) -> Operation[RegionsResponse]:
    """A vector per region (the given boxes, or detected ones), with tags and text relevance."""
    body = drop_none(
        {
            "image": image_ref(image),
            "boxes": [[float(v) for v in b] for b in boxes] if boxes is not None else None,
            "label_set": label_set,
            "labels": list(labels) if labels is not None else None,
            "texts": list(texts) if texts is not None else None,
        }
    )
    return RegionsResponse.model_validate((yield Call("POST", "/v1/embed/regions", body)))
