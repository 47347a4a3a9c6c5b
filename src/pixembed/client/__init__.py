"""pixembed's Python client: ``Client`` (blocking) and ``AsyncClient``, over httpx; no torch needed.

Methods return the wire models of ``pixembed.wire`` (the same models the server answers with, so /docs
describes them), with vectors as float32 numpy arrays. The names below are the client's names for them.
"""

from pixembed.client.async_client import AsyncClient
from pixembed.client.sync import Client
from pixembed.wire import (
    AddItemsOut,
    ClusteringOut,
    ClusterItemOut,
    ClusterOut,
    CollectionOut,
    CompareResponse,
    DedupOut,
    DetectionOut,
    DetectResponse,
    DuplicateCheckOut,
    EmbedResponse,
    GroupOut,
    ItemOut,
    JobOut,
    MatchOut,
    RegionsResponse,
    SearchResponse,
)

AddResult = AddItemsOut
Cluster = ClusterOut
ClusterItem = ClusterItemOut
ClusterResult = ClusteringOut
CollectionInfo = CollectionOut
Comparison = CompareResponse
DedupResult = DedupOut
DetectResult = DetectResponse
Detection = DetectionOut
DuplicateCheck = DuplicateCheckOut
DuplicateGroup = GroupOut
EmbedBatch = EmbedResponse
Job = JobOut
Match = MatchOut
RegionsResult = RegionsResponse
SearchResult = SearchResponse
StoredItem = ItemOut

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
