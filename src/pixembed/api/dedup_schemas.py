"""Bodies of the dedup, cluster, duplicate-check and job routes (shapes fixed in CONTRACTS.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pixembed.api.schemas import COLLECTION_MODEL_DOC, MODEL_DOC, ImageRef


class DedupOptions(BaseModel):
    """POST /v1/collections/{name}/dedup; the posted-set route adds ``images``."""

    model_config = ConfigDict(extra="forbid")

    method: str = "combined"  # services.dedup.DEFAULT_METHOD (a test holds them equal)
    hash_threshold: int | None = None
    similarity_threshold: float | None = None
    keep: str = "resolution"
    background: bool = False


class DedupRequest(DedupOptions):
    """POST /v1/dedup."""

    images: list[ImageRef]
    model: str | None = Field(default=None, description=MODEL_DOC)


class ClusterOptions(BaseModel):
    """POST /v1/collections/{name}/cluster; the posted-set route adds ``images``.

    ``k`` is the number of k-means clusters (chosen by silhouette when null); ``threshold`` the cosine
    distance of threshold clustering; ``min_cluster_size`` is HDBSCAN's.
    """

    model_config = ConfigDict(extra="forbid")

    method: str = "kmeans"
    k: int | None = None
    threshold: float | None = None
    min_cluster_size: int | None = None
    labels: list[str] | None = None
    label_threshold: float | None = None
    known_labels: dict[str, str] | None = None
    background: bool = False
    model: str | None = Field(
        default=None, description=f"{MODEL_DOC}; on a collection, must name the collection's own"
    )


class ClusterRequest(ClusterOptions):
    """POST /v1/cluster."""

    images: list[ImageRef]


class DuplicateCheck(BaseModel):
    """POST /v1/collections/{name}/duplicates/check."""

    model_config = ConfigDict(extra="forbid")

    image: ImageRef
    model: str | None = Field(default=None, description=COLLECTION_MODEL_DOC)
    similarity_threshold: float | None = None
    hash_threshold: int | None = None


class DedupItemOut(BaseModel):
    id: str
    name: str | None
    width: int | None
    height: int | None
    bytes: int | None


class PairOut(BaseModel):
    a: str
    b: str
    distance: int | None
    similarity: float | None


class CopyOut(BaseModel):
    """A copy against its group's keeper: the evidence, and whether it is safe to drop (and why)."""

    id: str
    distance: int | None
    similarity: float | None
    safe: bool
    reason: str


class GroupOut(BaseModel):
    """Every member is within the threshold of ``keep``; ``drop`` are the safe copies, ``borderline`` not."""

    members: list[str]
    keep: str
    drop: list[str]
    borderline: list[str]
    copies: list[CopyOut]


class DedupOut(BaseModel):
    """Pairs with their evidence, groups with the keeper, the ids safe to drop and the borderline ones."""

    method: str
    hash_threshold: int | None
    similarity_threshold: float | None
    items: list[DedupItemOut]
    pairs: list[PairOut]
    groups: list[GroupOut]
    drop: list[str]
    borderline: list[str]
    group_rule: str
    safe_rule: str


class ClusterOut(BaseModel):
    id: int
    members: list[str]
    medoid: str
    cohesion: float
    label: str | None
    label_confidence: float | None


class ClusterItemOut(BaseModel):
    id: str
    name: str | None
    cluster: int | None
    label: str | None
    label_confidence: float | None
    x: float
    y: float


class ClusteringOut(BaseModel):
    """Clusters (largest first), noise, and each item's cluster, label and 2-D position (PCA)."""

    method: str
    k: int
    silhouette_by_k: dict[str, float]
    label_threshold: float
    clusters: list[ClusterOut]
    noise: list[str]
    items: list[ClusterItemOut]


class JobAccepted(BaseModel):
    job_id: str
    status_url: str


class JobOut(BaseModel):
    id: str
    kind: str
    status: str
    progress: float
    result: Any | None
    error: dict[str, Any] | None


class DuplicateMatchOut(BaseModel):
    id: str
    similarity: float | None
    distance: int | None


class DuplicateCheckOut(BaseModel):
    is_duplicate: bool
    matches: list[DuplicateMatchOut]


# Hand-read request bodies whose schemas go into the OpenAPI components (api/openapi.document_models).
DOCUMENTED: list[type[BaseModel]] = [
    DedupRequest,
    DedupOptions,
    ClusterRequest,
    ClusterOptions,
    DuplicateCheck,
]
