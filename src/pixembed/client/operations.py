"""Every native route as a sans-I/O operation (see ``protocol``); the clients expose them as methods."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from pixembed.client.inputs import ImageInput, VectorInput, image_ref, image_refs, vector_list
from pixembed.client.protocol import Call, Operation, Sleep, segment
from pixembed.errors import InvalidRequest, PixembedError, Unavailable
from pixembed.wire import (
    AddItemsOut,
    ClusteringOut,
    CollectionList,
    CollectionOut,
    CompareResponse,
    DedupOut,
    EmbedResponse,
    Float32Array,
    ItemOut,
    JobOut,
    MatchOut,
    ModelsResponse,
    SearchCollectionOut,
    SearchResponse,
    TextEmbedResponse,
)

ProgressCallback = Callable[[JobOut], None]


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    """A request body without the arguments left unset (the server's defaults apply)."""
    return {k: v for k, v in values.items() if v is not None}


def embed(image: ImageInput) -> Operation[Float32Array]:
    """The vector of one image."""
    answer = EmbedResponse.model_validate((yield Call("POST", "/v1/embed", {"image": image_ref(image)})))
    vector: Float32Array = answer.vectors[0]
    return vector


def embed_many(images: Sequence[ImageInput]) -> Operation[EmbedResponse]:
    """Vectors of several images; an image that fails carries its own error."""
    body = {"images": image_refs(images)}
    return EmbedResponse.model_validate((yield Call("POST", "/v1/embed", body)))


def embed_text(text: str) -> Operation[Float32Array]:
    """The vector of one text."""
    answer = TextEmbedResponse.model_validate((yield Call("POST", "/v1/embed/text", {"text": text})))
    return answer.data[0].embedding


def embed_texts(texts: Sequence[str]) -> Operation[npt.NDArray[np.float32]]:
    """An (n, dimensions) array for several texts."""
    answer = TextEmbedResponse.model_validate((yield Call("POST", "/v1/embed/text", {"text": list(texts)})))
    return np.stack([item.embedding for item in answer.data])


def compare(
    image: ImageInput | None = None,
    labels: Sequence[str] | None = None,
    *,
    text: str | None = None,
    images: Sequence[ImageInput] | None = None,
) -> Operation[CompareResponse]:
    """Zero-shot: an ``image`` (or a ``text``) against ``labels`` (or prompt ``images``)."""
    if (image is None) == (text is None):
        raise InvalidRequest("compare needs exactly one subject: an image, or text=...")
    if (labels is None) == (images is None):
        raise InvalidRequest("compare needs exactly one set of prompts: labels, or images=...")
    body: dict[str, Any] = {
        "subject": text if text is not None else image_ref(image),  # type: ignore[arg-type]
        "subject_type": "text" if text is not None else "image",
    }
    if images is not None:
        body.update(prompts=image_refs(images), prompt_type="image")
    else:
        body.update(prompts=list(labels or []), prompt_type="text")
    reply = yield Call("POST", "/v1/compare", body)
    return CompareResponse.model_validate(reply)


def search(
    dataset: Sequence[ImageInput], *, query: ImageInput | None = None, text: str | None = None, top_k: int = 5
) -> Operation[SearchResponse]:
    """Rank a posted set of images by similarity to an image ``query`` or a ``text``."""
    if (query is None) == (text is None):
        raise InvalidRequest("search needs exactly one of query= (an image) or text=")
    body = drop_none(
        {"query": image_ref(query) if query is not None else None, "query_text": text, "top_k": top_k}
    )
    body["dataset"] = image_refs(dataset)
    reply = yield Call("POST", "/v1/embed/search", body)
    return SearchResponse.model_validate(reply)


def create_collection(name: str) -> Operation[CollectionOut]:
    """A new, empty collection for the server's model."""
    return CollectionOut.model_validate((yield Call("POST", "/v1/collections", {"name": name})))


def list_collections() -> Operation[list[CollectionOut]]:
    """Every collection."""
    return CollectionList.model_validate((yield Call("GET", "/v1/collections"))).data


def get_collection(name: str) -> Operation[CollectionOut]:
    """One collection's model, dimensions and count."""
    return CollectionOut.model_validate((yield Call("GET", f"/v1/collections/{segment(name)}")))


def delete_collection(name: str) -> Operation[None]:
    """Drop a collection and everything in it."""
    yield Call("DELETE", f"/v1/collections/{segment(name)}", reply="none")


def _per_item(values: Sequence[Any] | None, count: int, what: str) -> list[Any]:
    if values is None:
        return [None] * count
    if len(values) != count:
        raise InvalidRequest(f"{len(values)} {what} for {count} items: give one per item")
    return list(values)


def add_images(
    collection: str,
    images: Sequence[ImageInput],
    ids: Sequence[str] | None = None,
    metadata: Sequence[Mapping[str, Any]] | None = None,
    *,
    regions: bool = False,
    region_classes: str | Sequence[str] | None = None,
    region_top_k: int | None = None,
) -> Operation[AddItemsOut]:
    """Embed and store images (ids are made up when not given); ``regions`` also stores detected regions.

    ``region_classes`` (texts, or a label set name; the server's default is ``"fashion"``) and
    ``region_top_k`` say what to detect.
    """
    refs = image_refs(images)
    items = [
        drop_none({"id": i, "image": ref, "metadata": dict(m) if m is not None else None})
        for ref, i, m in zip(
            refs, _per_item(ids, len(refs), "ids"), _per_item(metadata, len(refs), "metadata"), strict=True
        )
    ]
    body: dict[str, Any] = {"items": items, **({"regions": True} if regions else {})}
    if regions and region_classes is not None:
        body["region_classes"] = region_classes if isinstance(region_classes, str) else list(region_classes)
    if regions and region_top_k is not None:
        body["region_top_k"] = region_top_k
    path = f"/v1/collections/{segment(collection)}/items"
    return AddItemsOut.model_validate((yield Call("POST", path, body)))


def add_vectors(
    collection: str,
    vectors: Sequence[VectorInput] | npt.NDArray[Any],
    ids: Sequence[str] | None = None,
    metadata: Sequence[Mapping[str, Any]] | None = None,
) -> Operation[AddItemsOut]:
    """Store ready vectors (rows of a 2-D array, or a list of 1-D ones) of the collection's model."""
    rows = [vector_list(v) for v in vectors]
    items = [
        drop_none({"id": i, "vector": row, "metadata": dict(m) if m is not None else None})
        for row, i, m in zip(
            rows, _per_item(ids, len(rows), "ids"), _per_item(metadata, len(rows), "metadata"), strict=True
        )
    ]
    return AddItemsOut.model_validate(
        (yield Call("POST", f"/v1/collections/{segment(collection)}/items", {"items": items}))
    )


def get_item(collection: str, item_id: str, *, include_vector: bool = False) -> Operation[ItemOut]:
    """A stored item's metadata, and its vector with ``include_vector``."""
    path = f"/v1/collections/{segment(collection)}/items/{segment(item_id)}"
    params = {"include_vector": "true"} if include_vector else None
    return ItemOut.model_validate((yield Call("GET", path, params=params)))


def delete_item(collection: str, item_id: str) -> Operation[None]:
    """Delete one stored item."""
    yield Call("DELETE", f"/v1/collections/{segment(collection)}/items/{segment(item_id)}", reply="none")


def thumbnail(collection: str, item_id: str) -> Operation[bytes]:
    """A stored item's thumbnail (JPEG bytes, at most 256 px a side)."""
    path = f"/v1/collections/{segment(collection)}/items/{segment(item_id)}/thumbnail"
    data: bytes = yield Call("GET", path, reply="bytes")
    return data


def search_collection(
    collection: str,
    *,
    text: str | None = None,
    image: ImageInput | None = None,
    vector: VectorInput | None = None,
    id: str | None = None,
    top_k: int = 10,
    filter: Mapping[str, Any] | None = None,
    box: Sequence[float] | None = None,
    score_threshold: float | None = None,
) -> Operation[list[MatchOut]]:
    """Search a collection by text, image (optionally a ``box`` of it), vector or stored id; matches whose
    cosine is below ``score_threshold`` are left out."""
    body = drop_none(
        {
            "text": text,
            "image": image_ref(image) if image is not None else None,
            "vector": vector_list(vector) if vector is not None else None,
            "id": id,
            "top_k": top_k,
            "filter": dict(filter) if filter is not None else None,
            "box": [float(v) for v in box] if box is not None else None,
            "score_threshold": score_threshold,
        }
    )
    reply = yield Call("POST", f"/v1/collections/{segment(collection)}/search", body)
    return SearchCollectionOut.model_validate(reply).results


def get_job(job_id: str) -> Operation[JobOut]:
    """A background job's status, progress and (once done) result."""
    return JobOut.model_validate((yield Call("GET", f"/v1/jobs/{segment(job_id)}")))


def wait_for_job(
    job_id: str, *, on_progress: ProgressCallback | None = None, timeout: float = 600.0, interval: float = 0.5
) -> Operation[DedupOut | ClusteringOut]:
    """Poll a job until it finishes; its result, or its error raised. ``on_progress`` sees each poll."""
    deadline = time.monotonic() + timeout
    while True:
        job = yield from get_job(job_id)
        if on_progress is not None:
            on_progress(job)
        if job.status == "done" and job.result is not None:
            return job.result
        if job.finished:
            failed = job.error.exception() if job.error else None
            raise failed or PixembedError(f"job {job_id} ended without a result")
        if time.monotonic() >= deadline:
            raise Unavailable(f"job {job_id} still {job.status} ({job.progress:.0%}) after {timeout:g} s")
        yield Sleep(interval)


def models() -> Operation[ModelsResponse]:
    """The loaded model and every model the server can be started with."""
    return ModelsResponse.model_validate((yield Call("GET", "/v1/models")))
