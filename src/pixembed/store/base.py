"""The vector-store interface every backend implements, and the records it holds."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pixembed.errors import InvalidRequest
from pixembed.store.filters import Filter

Vector = npt.NDArray[np.float32]
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
ID_MAX_CHARS = 256


@dataclass(frozen=True)
class CollectionInfo:
    """A collection's name, the model its vectors come from, their dimension, and how many it holds."""

    name: str
    model: str
    dimensions: int
    count: int = 0


@dataclass(frozen=True)
class Record:
    """One stored item: a unit vector and JSON metadata under a caller-chosen id."""

    id: str
    vector: Vector
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """A search hit: the item's id, cosine similarity, and metadata."""

    id: str
    score: float
    metadata: dict[str, Any]


def beside_store(store_location: str, data_dir: Path, filename: str) -> str:
    """Where a file that goes with the collections lives: next to a folder store, in memory for
    ``:memory:``, in the data directory for a remote store."""
    if store_location == ":memory:":
        return ":memory:"
    if "://" in store_location or store_location.startswith("qdrant+local:"):
        return str(data_dir / filename)
    return str(Path(store_location) / filename)


def check_collection_name(name: str) -> str:
    """Collection names are 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit."""
    # fullmatch: "$" in match() also accepts a trailing newline ("abc\n").
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidRequest(
            f"invalid collection name {name[:80]!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


def check_new_collection(name: str, dimensions: int) -> None:
    """What every backend checks before creating a collection: a valid name and a positive dimension."""
    check_collection_name(name)
    if dimensions < 1:
        raise InvalidRequest("dimensions must be positive")


def check_item_id(item_id: str) -> str:
    """Item ids are non-empty strings of at most 256 characters."""
    if not item_id or len(item_id) > ID_MAX_CHARS:
        raise InvalidRequest(f"item ids must be 1-{ID_MAX_CHARS} characters")
    return item_id


def check_vectors(info: CollectionInfo, vectors: Vector) -> Vector:
    """Refuse vectors of another dimension or non-finite values; return them L2-normalised float32."""
    if vectors.ndim != 2 or vectors.shape[1] != info.dimensions:
        got = vectors.shape[-1] if vectors.ndim else 0
        raise InvalidRequest(
            f"collection {info.name!r} holds {info.dimensions}-d vectors from {info.model}; got {got}-d"
        )
    if not np.isfinite(vectors).all():
        raise InvalidRequest("vectors must hold finite numbers only")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        raise InvalidRequest("a zero vector has no direction and cannot be searched")
    unit: Vector = (vectors / norms).astype(np.float32)
    return unit


def check_query(info: CollectionInfo, vector: Vector) -> Vector:
    """A search's query vector (any shape of one row) as a checked, L2-normalised float32 vector."""
    query: Vector = check_vectors(info, np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
    return query


def check_top_k(top_k: int) -> None:
    """A search asks for at least one match."""
    if top_k < 1:
        raise InvalidRequest(f"top_k must be at least 1, got {top_k}")


def check_records(info: CollectionInfo, records: Sequence[Record]) -> tuple[list[str], Vector]:
    """Validate a batch for ``upsert``: ids well formed and unique, vectors of the collection's dimension."""
    ids = [check_item_id(r.id) for r in records]
    if len(set(ids)) != len(ids):
        raise InvalidRequest("the same id appears twice in one batch")
    vectors = check_vectors(info, np.stack([np.asarray(r.vector, dtype=np.float32) for r in records]))
    return ids, vectors


class VectorStore(ABC):
    """Collections of vectors with metadata: the contract every backend passes (tests/store)."""

    @abstractmethod
    def create_collection(self, name: str, model: str, dimensions: int) -> CollectionInfo:
        """Create a collection; ``Conflict`` if the name is taken."""

    @abstractmethod
    def list_collections(self) -> list[CollectionInfo]:
        """Every collection, by name."""

    @abstractmethod
    def get_collection(self, name: str) -> CollectionInfo:
        """One collection with its count; ``NotFound`` if absent."""

    @abstractmethod
    def delete_collection(self, name: str) -> None:
        """Drop a collection and its items; ``NotFound`` if absent."""

    @abstractmethod
    def scan(self, name: str, batch_size: int = 1000) -> Iterator[list[Record]]:
        """Every record of a collection, in batches (for export)."""

    @abstractmethod
    def existing(self, name: str, item_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The metadata of those of ``item_ids`` that are stored (absent ids are left out)."""

    @abstractmethod
    def upsert(self, name: str, records: Sequence[Record]) -> int:
        """Insert or replace items by id, durably before returning; returns how many were written."""

    @abstractmethod
    def get(self, name: str, item_id: str) -> Record:
        """One item; ``NotFound`` if absent."""

    @abstractmethod
    def delete(self, name: str, item_ids: Sequence[str]) -> int:
        """Delete items by id; returns how many existed."""

    @abstractmethod
    def search(self, name: str, vector: Vector, top_k: int, where: Filter | None = None) -> list[Match]:
        """The ``top_k`` items most similar to ``vector`` among those matching ``where``, best first."""

    def close(self) -> None:  # noqa: B027 - backends without resources keep the default
        """Release files and connections."""
