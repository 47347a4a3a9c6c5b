"""Answers of dedup, cluster, the duplicate check and jobs (shapes fixed in CONTRACTS.md).

Posted-set ids are the images' positions as strings ("0", "1", ...); collection ids are the stored ids.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pixembed.wire.base import WireModel
from pixembed.wire.errors import ErrorBody


class DedupItemOut(WireModel):
    """An image the dedup run looked at."""

    id: str
    name: str | None
    width: int | None
    height: int | None
    bytes: int | None


class PairOut(WireModel):
    """Two items found alike: hash ``distance`` and/or cosine ``similarity``."""

    a: str
    b: str
    distance: int | None
    similarity: float | None


class CopyOut(WireModel):
    """A copy against its group's keeper: the evidence, and whether it is safe to drop (and why)."""

    id: str
    distance: int | None
    similarity: float | None
    safe: bool
    reason: str


class GroupOut(WireModel):
    """Every member is within the threshold of ``keep``; ``drop`` are the safe copies, ``borderline`` not."""

    members: list[str]
    keep: str
    drop: list[str]
    borderline: list[str]
    copies: list[CopyOut]


class DedupOut(WireModel):
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


class ClusterOut(WireModel):
    """A cluster: its members, its most central member, how tight it is, and its label if any."""

    id: int
    members: list[str]
    medoid: str
    cohesion: float
    label: str | None
    label_confidence: float | None


class ClusterItemOut(WireModel):
    """An item's cluster (None for noise), label, and place on the 2-D map."""

    id: str
    name: str | None
    cluster: int | None
    label: str | None
    label_confidence: float | None
    x: float
    y: float


class ClusteringOut(WireModel):
    """Clusters (largest first), noise, and each item's cluster, label and 2-D position (PCA)."""

    method: str
    k: int
    silhouette_by_k: dict[str, float]
    label_threshold: float
    clusters: list[ClusterOut]
    noise: list[str]
    items: list[ClusterItemOut]


class DuplicateMatchOut(WireModel):
    """A stored item that a checked image duplicates."""

    id: str
    similarity: float | None
    distance: int | None


class DuplicateCheckOut(WireModel):
    """Whether an image duplicates something in a collection, and what."""

    is_duplicate: bool
    matches: list[DuplicateMatchOut]


JobStatus = Literal["queued", "running", "done", "failed"]


class JobAccepted(WireModel):
    """202: the run went to a background job; poll ``status_url``."""

    job_id: str
    status_url: str


class JobOut(WireModel):
    """A background job (collection dedup or cluster): status, progress, and its result or error once done."""

    id: str
    kind: str = Field(description='"dedup" or "cluster"')
    status: JobStatus
    progress: float = Field(description="0 to 1")
    result: DedupOut | ClusteringOut | None = None
    error: ErrorBody | None = None

    @property
    def finished(self) -> bool:
        """True once the job is done or failed."""
        return self.status in ("done", "failed")
