"""Vector stores behind one interface, chosen by a location string (see ``open_store``)."""

from __future__ import annotations

from pathlib import Path

from pixembed.errors import InvalidRequest
from pixembed.store.base import CollectionInfo, Match, Record, VectorStore
from pixembed.store.filters import Filter, parse_filter

__all__ = ["CollectionInfo", "Filter", "Match", "Record", "VectorStore", "open_store", "parse_filter"]


def open_store(location: str | Path, *, exact_max: int | None = None) -> VectorStore:
    """A store from its location: ``:memory:``, a folder, ``qdrant://host:port``, ``qdrant+local:PATH`` or
    ``postgresql://user:password@host:port/database`` (PostgreSQL with pgvector).

    ``exact_max`` is the embedded store's largest exactly searched collection (Qdrant indexes by itself).
    """
    text = str(location)
    if text.startswith(("qdrant://", "qdrant+local:", "qdrants://")):
        from pixembed.store.qdrant import QdrantStore

        return QdrantStore.from_location(text)
    if text.startswith(("postgresql://", "postgres://")):
        try:
            from pixembed.store.pgvector import PgVectorStore
        except ImportError as exc:  # the core install has no PostgreSQL driver
            raise InvalidRequest(
                "a postgresql:// store needs the PostgreSQL driver and pgvector's adapters: "
                "pip install 'pixembed[postgres]'"
            ) from exc
        return PgVectorStore(text)
    if "://" in text:
        raise InvalidRequest(
            f"unknown store location {text!r}: use a folder, :memory:, qdrant://host:port or "
            "postgresql://user:password@host/database"
        )
    from pixembed.store.embedded import DEFAULT_EXACT_MAX, EmbeddedStore

    return EmbeddedStore(text, exact_max=DEFAULT_EXACT_MAX if exact_max is None else exact_max)
