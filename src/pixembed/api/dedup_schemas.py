"""Request bodies of the dedup, cluster and duplicate-check routes (answers: ``pixembed.wire``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from pixembed.api.schemas import COLLECTION_MODEL_DOC, MODEL_DOC, ImageRef, to_source
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
    model: str | None = Field(default=None, description=MODEL_DOC)

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
    model: str | None = Field(
        default=None, description=f"{MODEL_DOC}; on a collection, must name the collection's own"
    )

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
    model: str | None = Field(default=None, description=COLLECTION_MODEL_DOC)
    similarity_threshold: float | None = None
    hash_threshold: int | None = None
