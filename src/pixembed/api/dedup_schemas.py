"""Bodies of the dedup, cluster, duplicate-check and job routes (shapes fixed in CONTRACTS.md)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from pixembed.api.schemas import ImageRef, to_source
from pixembed.services.analysis_service import ClusterRun, DedupRun
from pixembed.services.clustering import ClusterMethod, check_cluster_method
from pixembed.services.dedup import (
    DEFAULT_METHOD,
    DedupMethod,
    KeepRule,
    check_keep,
    check_method,
    resolve_thresholds,
)
from pixembed.services.inputs import ImageSource


class DedupOptions(BaseModel):
    """POST /v1/collections/{name}/dedup; the posted-set route adds ``images``."""

    model_config = ConfigDict(extra="forbid")

    # The services' checks run first, so an unknown value gets their message, which lists the valid ones.
    method: Annotated[DedupMethod, BeforeValidator(check_method)] = DEFAULT_METHOD
    hash_threshold: int | None = None
    similarity_threshold: float | None = None
    keep: Annotated[KeepRule, BeforeValidator(check_keep)] = "resolution"
    background: bool = False

    @model_validator(mode="after")
    def _thresholds_in_range(self) -> DedupOptions:
        resolve_thresholds(self.method, self.hash_threshold, self.similarity_threshold)
        return self

    def run(self) -> DedupRun:
        """The service's options for this run."""
        return DedupRun(self.method, self.hash_threshold, self.similarity_threshold, self.keep)


class DedupRequest(DedupOptions):
    """POST /v1/dedup."""

    images: list[ImageRef]

    def sources(self) -> list[ImageSource]:
        """The posted images, in order."""
        return [to_source(ref) for ref in self.images]


class ClusterOptions(BaseModel):
    """POST /v1/collections/{name}/cluster; the posted-set route adds ``images``.

    ``k`` is the number of k-means clusters (chosen by silhouette when null); ``threshold`` the cosine
    distance of threshold clustering; ``min_cluster_size`` is HDBSCAN's.
    """

    model_config = ConfigDict(extra="forbid")

    method: Annotated[ClusterMethod, BeforeValidator(check_cluster_method)] = "kmeans"
    k: int | None = None
    threshold: float | None = None
    min_cluster_size: int | None = None
    labels: list[str] | None = None
    label_threshold: float | None = None
    known_labels: dict[str, str] | None = None
    background: bool = False

    def run(self) -> ClusterRun:
        """The service's options for this run."""
        return ClusterRun(
            self.method,
            self.k,
            self.threshold,
            self.min_cluster_size,
            self.labels,
            self.label_threshold,
            self.known_labels,
        )


class ClusterRequest(ClusterOptions):
    """POST /v1/cluster."""

    images: list[ImageRef]

    def sources(self) -> list[ImageSource]:
        """The posted images, in order."""
        return [to_source(ref) for ref in self.images]


class DuplicateCheck(BaseModel):
    """POST /v1/collections/{name}/duplicates/check."""

    model_config = ConfigDict(extra="forbid")

    image: ImageRef
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
