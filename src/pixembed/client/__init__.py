"""pixembed's Python client: ``Client`` (blocking) and ``AsyncClient``, over httpx; no torch needed."""

from pixembed.client.analysis import (
    Cluster,
    ClusterItem,
    ClusterResult,
    DedupResult,
    Detection,
    DetectResult,
    DuplicateCheck,
    DuplicateGroup,
    RegionsResult,
)
from pixembed.client.async_client import AsyncClient
from pixembed.client.sync import Client
from pixembed.client.types import (
    AddResult,
    CollectionInfo,
    Comparison,
    EmbedBatch,
    Job,
    Match,
    SearchResult,
    StoredItem,
)

__all__ = [
    "AddResult",
    "AsyncClient",
    "Client",
    "Cluster",
    "ClusterItem",
    "ClusterResult",
    "CollectionInfo",
    "Comparison",
    "DedupResult",
    "DetectResult",
    "Detection",
    "DuplicateCheck",
    "DuplicateGroup",
    "EmbedBatch",
    "Job",
    "Match",
    "RegionsResult",
    "SearchResult",
    "StoredItem",
]
