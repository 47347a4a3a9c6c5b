"""The distributed-engine backend: the same collections on Qdrant, through its official client.

``qdrant://host:6333`` talks to a Qdrant server or cluster; ``qdrant+local:PATH`` (or
``qdrant+local::memory:``) runs qdrant-client's embedded local mode, which CI uses for the contract tests.
Qdrant point ids must be integers or UUIDs, so an item's id is mapped to a UUID5 and kept in the payload.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

import numpy as np
from qdrant_client import QdrantClient, models

from pixembed.errors import Conflict, InvalidRequest, NotFound
from pixembed.store.base import (
    CollectionInfo,
    Match,
    Record,
    Vector,
    VectorStore,
    check_new_collection,
    check_query,
    check_records,
    check_top_k,
)
from pixembed.store.filters import Condition, Filter

CATALOGUE = "_pixembed_collections"
ID_KEY = "_pixembed_id"
META_KEY = "_pixembed_metadata"
NAMESPACE = uuid.UUID("6f0c2a52-7b59-4a54-9a43-2d4f1b0f6a11")


def _point_id(item_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, item_id))


class QdrantStore(VectorStore):
    """Collections as Qdrant collections (cosine distance), with a catalogue collection for their models."""

    def __init__(self, client: QdrantClient) -> None:
        self.client = client
        if not self.client.collection_exists(CATALOGUE):
            self.client.create_collection(
                CATALOGUE, vectors_config=models.VectorParams(size=1, distance=models.Distance.DOT)
            )

    @classmethod
    def from_location(cls, location: str) -> QdrantStore:
        """Connect (``qdrant://host:port``, ``qdrants://`` for TLS) or open local mode (``qdrant+local:``)."""
        if location.startswith("qdrant+local:"):
            path = location[len("qdrant+local:") :]
            return cls(QdrantClient(location=":memory:") if path == ":memory:" else QdrantClient(path=path))
        url = urlparse(location)
        scheme = "https" if url.scheme == "qdrants" else "http"
        return cls(QdrantClient(url=f"{scheme}://{url.hostname}:{url.port or 6333}"))

    def _catalogue_entry(self, name: str) -> dict[str, Any] | None:
        points = self.client.retrieve(CATALOGUE, ids=[_point_id(name)], with_payload=True)
        return dict(points[0].payload or {}) if points else None

    def create_collection(self, name: str, model: str, dimensions: int) -> CollectionInfo:
        """Create a Qdrant collection and record its model."""
        check_new_collection(name, dimensions)
        if self._catalogue_entry(name) is not None:
            raise Conflict(f"collection {name!r} already exists")
        self.client.create_collection(
            name, vectors_config=models.VectorParams(size=dimensions, distance=models.Distance.COSINE)
        )
        payload = {"name": name, "model": model, "dimensions": dimensions}
        point = models.PointStruct(id=_point_id(name), vector=[1.0], payload=payload)
        self.client.upsert(CATALOGUE, points=[point], wait=True)
        return CollectionInfo(name, model, dimensions, 0)

    def list_collections(self) -> list[CollectionInfo]:
        """Every collection recorded in the catalogue."""
        points, _ = self.client.scroll(CATALOGUE, limit=10_000, with_payload=True)
        names = sorted(str((p.payload or {})["name"]) for p in points)
        return [self.get_collection(name) for name in names]

    def get_collection(self, name: str) -> CollectionInfo:
        """One collection with its exact count."""
        entry = self._catalogue_entry(name)
        if entry is None:
            raise NotFound(f"no collection named {name!r}")
        count = self.client.count(name, exact=True).count
        return CollectionInfo(name, str(entry["model"]), int(entry["dimensions"]), int(count))

    def delete_collection(self, name: str) -> None:
        """Drop the Qdrant collection and its catalogue entry."""
        self.get_collection(name)
        self.client.delete_collection(name)
        self.client.delete(
            CATALOGUE, points_selector=models.PointIdsList(points=[_point_id(name)]), wait=True
        )

    def scan(self, name: str, batch_size: int = 1000) -> Iterator[list[Record]]:
        """Records page by page through Qdrant's scroll API."""
        self.get_collection(name)
        offset = None
        while True:
            points, offset = self.client.scroll(
                name, limit=batch_size, offset=offset, with_payload=True, with_vectors=True
            )
            if points:
                yield [
                    Record(
                        str((p.payload or {})[ID_KEY]),
                        np.asarray(p.vector, dtype=np.float32),
                        dict((p.payload or {}).get(META_KEY, {})),
                    )
                    for p in points
                ]
            if offset is None:
                return

    def existing(self, name: str, item_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Metadata of the stored ones among ``item_ids``."""
        self.get_collection(name)
        points = self.client.retrieve(name, ids=[_point_id(i) for i in item_ids], with_payload=True)
        return {str((p.payload or {})[ID_KEY]): dict((p.payload or {}).get(META_KEY, {})) for p in points}

    def upsert(self, name: str, records: Sequence[Record]) -> int:
        """Upsert points and wait until Qdrant has applied them."""
        info = self.get_collection(name)
        if not records:
            return 0
        _, vectors = check_records(info, records)
        points = []
        for record, vector in zip(records, vectors, strict=True):
            if not isinstance(record.metadata, dict):
                raise InvalidRequest("metadata must be a JSON object")
            payload = {**record.metadata, ID_KEY: record.id, META_KEY: record.metadata}
            points.append(
                models.PointStruct(id=_point_id(record.id), vector=vector.tolist(), payload=payload)
            )
        self.client.upsert(name, points=points, wait=True)
        return len(points)

    def get(self, name: str, item_id: str) -> Record:
        """One point, as a record."""
        self.get_collection(name)
        points = self.client.retrieve(name, ids=[_point_id(item_id)], with_payload=True, with_vectors=True)
        if not points:
            raise NotFound(f"collection {name!r} has no item {item_id!r}")
        payload = points[0].payload or {}
        vector = np.asarray(points[0].vector, dtype=np.float32)
        return Record(item_id, vector, dict(payload.get(META_KEY, {})))

    def delete(self, name: str, item_ids: Sequence[str]) -> int:
        """Delete points by id; returns how many existed."""
        self.get_collection(name)
        point_ids: list[models.ExtendedPointId] = [_point_id(i) for i in item_ids]
        existing = self.client.retrieve(name, ids=point_ids, with_payload=False)
        if existing:
            selector = models.PointIdsList(points=[p.id for p in existing])
            self.client.delete(name, points_selector=selector, wait=True)
        return len(existing)

    def search(self, name: str, vector: Vector, top_k: int, where: Filter | None = None) -> list[Match]:
        """Qdrant's nearest points by cosine, filtered inside the engine so selective filters fill top_k."""
        info = self.get_collection(name)
        query = check_query(info, vector)
        check_top_k(top_k)
        result = self.client.query_points(
            name,
            query=query.tolist(),
            limit=top_k,
            query_filter=to_qdrant_filter(where) if where else None,
            with_payload=True,
        )
        return [
            Match(str((p.payload or {})[ID_KEY]), float(p.score), dict((p.payload or {}).get(META_KEY, {})))
            for p in result.points
        ]

    def close(self) -> None:
        """Close the client (local mode releases its folder lock)."""
        self.client.close()


def to_qdrant_filter(where: Filter) -> models.Filter:
    """Translate a pixembed filter into Qdrant's filter model."""
    must: list[models.Condition] = []
    must_not: list[models.Condition] = []
    for condition in where.conditions:
        if condition.op in ("ne", "nin"):
            positive = Condition(condition.key, "eq" if condition.op == "ne" else "in", condition.value)
            must_not.append(_positive(positive))
        else:
            must.append(_positive(condition))
    return models.Filter(must=must or None, must_not=must_not or None)


def _equals(key: str, value: Any) -> models.Condition:
    # Numbers compare by value across int and float (3 == 3.0), as JSON and the embedded store do;
    # Qdrant's MatchValue would compare integers only.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _positive(condition: Condition) -> models.Condition:
    key, op, value = condition.key, condition.op, condition.value
    if op == "eq":
        return _equals(key, value)
    if op == "in":
        assert isinstance(value, tuple)
        return models.Filter(should=[_equals(key, v) for v in value])
    assert isinstance(value, int | float)
    bound = float(value)
    ranges = {
        "gt": models.Range(gt=bound),
        "gte": models.Range(gte=bound),
        "lt": models.Range(lt=bound),
        "lte": models.Range(lte=bound),
    }
    return models.FieldCondition(key=key, range=ranges[op])
