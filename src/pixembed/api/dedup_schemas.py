"""Request bodies of the dedup, cluster and duplicate-check routes (answers: ``pixembed.wire``)."""

from __future__ import annotations

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


# Hand-read request bodies whose schemas go into the OpenAPI components (api/openapi.document_models).
DOCUMENTED: list[type[BaseModel]] = [
    DedupRequest,
    DedupOptions,
    ClusterRequest,
    ClusterOptions,
    DuplicateCheck,
]
