"""The wire schema: every native route's response body, once, as pydantic models.

The server declares them as its routes' ``response_model`` (so /openapi.json describes every answer) and the
client parses answers with them (``model_validate``). This package imports pydantic, numpy and pixembed's
error tree only: no FastAPI, no server, no model runtime (an import-linter contract holds it so).
"""

from pixembed.wire.analysis import (
    ClusteringOut,
    ClusterItemOut,
    ClusterOut,
    CopyOut,
    DedupItemOut,
    DedupOut,
    DuplicateCheckOut,
    DuplicateMatchOut,
    GroupOut,
    JobAccepted,
    JobOut,
    JobStatus,
    PairOut,
)
from pixembed.wire.base import ModelFields, WireModel
from pixembed.wire.collections import (
    AddedOut,
    AddItemsOut,
    CollectionList,
    CollectionOut,
    ItemOut,
    MatchOut,
    SearchCollectionOut,
)
from pixembed.wire.detect import (
    DetectionOut,
    DetectResponse,
    RegionOut,
    RegionsResponse,
    RelevanceOut,
    TagOut,
)
from pixembed.wire.embed import (
    CompareResponse,
    EmbeddingItem,
    EmbedResponse,
    ScoredPrompt,
    SearchHit,
    SearchResponse,
    SkippedItem,
    TextEmbedResponse,
    TextItem,
)
from pixembed.wire.errors import ErrorBody, error_from_body
from pixembed.wire.keys import CreatedKey, KeyList, KeyOut
from pixembed.wire.system import Health, LoadedModel, ModelEntry, ModelsResponse, Readiness, ServedModelOut
from pixembed.wire.values import Base64Bytes, Float32Array

__all__ = [
    "AddItemsOut",
    "AddedOut",
    "Base64Bytes",
    "ClusterItemOut",
    "ClusterOut",
    "ClusteringOut",
    "CollectionList",
    "CollectionOut",
    "CompareResponse",
    "CopyOut",
    "CreatedKey",
    "DedupItemOut",
    "DedupOut",
    "DetectResponse",
    "DetectionOut",
    "DuplicateCheckOut",
    "DuplicateMatchOut",
    "EmbedResponse",
    "EmbeddingItem",
    "ErrorBody",
    "Float32Array",
    "GroupOut",
    "Health",
    "ItemOut",
    "JobAccepted",
    "JobOut",
    "JobStatus",
    "KeyList",
    "KeyOut",
    "LoadedModel",
    "MatchOut",
    "ModelEntry",
    "ModelFields",
    "ModelsResponse",
    "PairOut",
    "Readiness",
    "RegionOut",
    "RegionsResponse",
    "RelevanceOut",
    "ScoredPrompt",
    "SearchCollectionOut",
    "SearchHit",
    "SearchResponse",
    "ServedModelOut",
    "SkippedItem",
    "TagOut",
    "TextEmbedResponse",
    "TextItem",
    "WireModel",
    "error_from_body",
]
