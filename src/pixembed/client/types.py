"""What the client's methods return: plain dataclasses, with vectors as float32 numpy arrays."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from pixembed.client.errors import error_from_body
from pixembed.client.inputs import to_vector
from pixembed.errors import PixembedError

Vector = npt.NDArray[np.float32]
Json = dict[str, Any]


def _error(body: Json | None) -> PixembedError | None:
    return error_from_body(body, body.get("status", 400)) if body else None


@dataclass(frozen=True)
class ImageEmbedding:
    """One image of a batch: its vector, or the error that stopped it."""

    index: int
    filename: str | None
    vector: Vector | None
    error: PixembedError | None = None


@dataclass(frozen=True)
class EmbedBatch:
    """Vectors for a batch of images, in the order sent."""

    model: str
    dimensions: int
    items: list[ImageEmbedding]

    @property
    def vectors(self) -> Vector:
        """An (n, dimensions) array; raises the first item's error if any image failed."""
        for item in self.items:
            if item.error is not None:
                raise item.error
        return np.stack([item.vector for item in self.items if item.vector is not None])

    @classmethod
    def from_json(cls, body: Json) -> EmbedBatch:
        items = [
            ImageEmbedding(
                d["index"],
                d.get("filename"),
                to_vector(d["embedding"]) if d.get("embedding") is not None else None,
                _error(d.get("error")),
            )
            for d in body["data"]
        ]
        return cls(body["model"], body["dimensions"], items)


@dataclass(frozen=True)
class ScoredPrompt:
    """A prompt with its cosine similarity and zero-shot probability."""

    index: int
    prompt: str
    similarity: float
    probability: float


@dataclass(frozen=True)
class Comparison:
    """Similarities and probabilities in prompt order, and the prompts ranked best first."""

    model: str
    dimensions: int
    logit_scale: float
    similarities: Vector
    probabilities: Vector
    ranking: list[ScoredPrompt]

    @classmethod
    def from_json(cls, body: Json) -> Comparison:
        ranking = [
            ScoredPrompt(r["index"], r["prompt"], r["similarity"], r["probability"]) for r in body["ranking"]
        ]
        return cls(
            body["model"],
            body["dimensions"],
            body["logit_scale"],
            to_vector(body["similarities"]),
            to_vector(body["probabilities"]),
            ranking,
        )


@dataclass(frozen=True)
class SearchHit:
    """A posted image ranked by similarity to the query."""

    index: int
    filename: str | None
    similarity: float


@dataclass(frozen=True)
class SkippedImage:
    """A posted image that could not be read."""

    index: int
    filename: str | None
    error: PixembedError


@dataclass(frozen=True)
class SearchResult:
    """The best hits of a posted-set search, and the images skipped."""

    model: str
    dimensions: int
    results: list[SearchHit]
    skipped: list[SkippedImage]
    searched: int

    @classmethod
    def from_json(cls, body: Json) -> SearchResult:
        hits = [SearchHit(h["index"], h.get("filename"), h["similarity"]) for h in body["results"]]
        skipped = []
        for s in body.get("skipped", []):
            error = _error(s["error"])
            assert error is not None
            skipped.append(SkippedImage(s["index"], s.get("filename"), error))
        return cls(body["model"], body["dimensions"], hits, skipped, body["searched"])


@dataclass(frozen=True)
class CollectionInfo:
    """A collection: the model its vectors come from, their dimension, and its item count."""

    name: str
    model: str
    dimensions: int
    count: int

    @classmethod
    def from_json(cls, body: Json) -> CollectionInfo:
        return cls(body["name"], body["model"], body["dimensions"], body["count"])


@dataclass(frozen=True)
class AddedItem:
    """One item sent to a collection: the id it is stored under, or its error."""

    index: int
    id: str | None
    error: PixembedError | None = None


@dataclass(frozen=True)
class AddResult:
    """How many items were written, and each one's outcome."""

    collection: str
    written: int
    items: list[AddedItem]

    @property
    def ids(self) -> list[str | None]:
        """The stored id of each item in the order sent (None where it failed)."""
        return [item.id for item in self.items]

    @classmethod
    def from_json(cls, body: Json) -> AddResult:
        items = [AddedItem(d["index"], d.get("id"), _error(d.get("error"))) for d in body["data"]]
        return cls(body["collection"], body["written"], items)


@dataclass(frozen=True)
class StoredItem:
    """A stored item; ``vector`` only when asked for."""

    id: str
    metadata: dict[str, Any]
    vector: Vector | None = None

    @classmethod
    def from_json(cls, body: Json) -> StoredItem:
        vector = to_vector(body["vector"]) if body.get("vector") is not None else None
        return cls(body["id"], body.get("metadata", {}), vector)


@dataclass(frozen=True)
class Match:
    """A collection search hit: id, cosine similarity, metadata."""

    id: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: Json) -> Match:
        return cls(body["id"], body["score"], body.get("metadata") or {})


@dataclass(frozen=True)
class Job:
    """A background job (collection dedup or cluster) and, once done, its result body."""

    id: str
    kind: str
    status: str
    progress: float
    result: Json | None
    error: PixembedError | None

    @property
    def finished(self) -> bool:
        """True once the job is done or failed."""
        return self.status in ("done", "failed")

    @classmethod
    def from_json(cls, body: Json) -> Job:
        return cls(
            str(body["id"]),
            body.get("kind", ""),
            body["status"],
            float(body.get("progress") or 0.0),
            body.get("result"),
            _error(body.get("error")),
        )


def decode_png(value: str | None) -> bytes | None:
    """The bytes of a base64 image the server sent back, if any."""
    return base64.b64decode(value) if value else None
