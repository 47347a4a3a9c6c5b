"""Clusters of unit vectors: k-means (k given or chosen by silhouette), HDBSCAN, or a cosine threshold.

Every cluster reports its members, its medoid and its cohesion:
- medoid: the member with the largest summed cosine similarity to the other members. For unit vectors
  that sum is the member's dot product with the sum of all members, so it is found exactly in O(n).
- cohesion: the mean cosine similarity of the members to their normalised mean direction (1.0 when all
  members point the same way; about 0 for unrelated vectors).
The 2-D map is the first two principal components (scikit-learn PCA).

scikit-learn is imported inside the functions: it takes seconds, and the server and CLI import this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from pixembed.errors import InvalidRequest, TooManyItems

ClusterMethod = Literal["kmeans", "hdbscan", "threshold"]
CLUSTER_METHODS: tuple[ClusterMethod, ...] = get_args(ClusterMethod)
Vectors = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
Progress = Callable[[float], None]

AUTO_K_MAX = 20
SILHOUETTE_SAMPLE = 5000
DEFAULT_DISTANCE_THRESHOLD = 0.3
# Agglomerative clustering holds an n x n distance matrix: 20,000 items is 1.6 GB of float32.
THRESHOLD_MAX_ITEMS = 20_000
# HDBSCAN's neighbour search degrades in 512 dimensions; above this many items it runs on 50 PCA components.
HDBSCAN_REDUCE_ABOVE = 2000


@dataclass(frozen=True)
class Cluster:
    """One cluster: member indices, the medoid's index, and the cohesion score."""

    id: int
    members: list[int]
    medoid: int
    cohesion: float


@dataclass(frozen=True)
class Clustering:
    """A run's clusters, the label of each item (-1 is noise), the 2-D map, and how k was chosen."""

    method: ClusterMethod
    k: int
    labels: Labels
    clusters: list[Cluster]
    noise: list[int]
    coords: npt.NDArray[np.float64]
    silhouette_by_k: dict[int, float] = field(default_factory=dict)


def check_cluster_method(method: str) -> ClusterMethod:
    """The method, or a 400 that lists the valid ones."""
    if method not in CLUSTER_METHODS:
        raise InvalidRequest(f"unknown cluster method {method!r}: use one of {', '.join(CLUSTER_METHODS)}")
    return method


def _auto_k(vectors: Vectors, on_progress: Progress) -> tuple[int, dict[int, float]]:
    """The k in 2..AUTO_K_MAX with the best silhouette (cosine), and every score tried."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    candidates = list(range(2, min(AUTO_K_MAX, n - 1) + 1))
    if not candidates:
        return 1, {}
    scores: dict[int, float] = {}
    for position, k in enumerate(candidates):
        labels = KMeans(n_clusters=k, n_init=3, random_state=0).fit_predict(vectors)
        if len(set(labels.tolist())) > 1:
            scores[k] = float(
                silhouette_score(
                    vectors, labels, metric="cosine", sample_size=min(n, SILHOUETTE_SAMPLE), random_state=0
                )
            )
        on_progress(0.8 * (position + 1) / len(candidates))
    best = max(scores, key=lambda k: (scores[k], -k)) if scores else 1
    return best, scores


def _labels(
    vectors: Vectors,
    method: ClusterMethod,
    k: int | None,
    threshold: float | None,
    min_size: int | None,
    on_progress: Progress,
) -> tuple[Labels, dict[int, float]]:
    from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans
    from sklearn.decomposition import PCA

    n = len(vectors)
    if method == "kmeans":
        if k is not None and not 1 <= k <= n:
            raise InvalidRequest(f"k must be between 1 and the number of items ({n}), got {k}")
        scores: dict[int, float] = {}
        if k is None:
            k, scores = _auto_k(vectors, on_progress)
        labels = KMeans(n_clusters=k, n_init=3, random_state=0).fit_predict(vectors)
        return labels.astype(np.int64), scores
    if method == "hdbscan":
        size = min_size if min_size is not None else max(2, min(5, n // 4))
        if size < 2:
            raise InvalidRequest(f"min_cluster_size must be at least 2, got {size}")
        data = vectors
        if n > HDBSCAN_REDUCE_ABOVE:
            data = PCA(n_components=min(50, vectors.shape[1]), random_state=0).fit_transform(vectors)
        found = HDBSCAN(min_cluster_size=size, copy=True).fit_predict(data)
        return found.astype(np.int64), {}
    if n > THRESHOLD_MAX_ITEMS:
        raise TooManyItems(
            f"threshold clustering takes at most {THRESHOLD_MAX_ITEMS} items (it compares every pair); "
            f"got {n}: use kmeans or hdbscan"
        )
    distance = threshold if threshold is not None else DEFAULT_DISTANCE_THRESHOLD
    if n == 1:
        return np.zeros(1, np.int64), {}
    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average"
    )
    return model.fit_predict(vectors).astype(np.int64), {}


def describe_cluster(vectors: Vectors, members: list[int], cluster_id: int) -> Cluster:
    """Medoid and cohesion of one set of members (see the module docstring)."""
    block = vectors[members]
    total = block.sum(axis=0)
    medoid = members[int(np.argmax(block @ total))]
    norm = float(np.linalg.norm(total))
    cohesion = float((block @ (total / norm)).mean()) if norm > 0 else 0.0
    return Cluster(cluster_id, members, medoid, cohesion)


def map_2d(vectors: Vectors) -> npt.NDArray[np.float64]:
    """Each item's position on the first two principal components (zeros when there is no spread)."""
    from sklearn.decomposition import PCA

    n = len(vectors)
    if n < 3:
        return np.zeros((n, 2))
    coords = PCA(n_components=2, random_state=0).fit_transform(vectors.astype(np.float64))
    return np.asarray(coords, dtype=np.float64)


def cluster_vectors(
    vectors: Vectors,
    method: ClusterMethod,
    k: int | None = None,
    threshold: float | None = None,
    min_cluster_size: int | None = None,
    on_progress: Progress = lambda _: None,
) -> Clustering:
    """Cluster unit vectors; clusters are numbered by size, largest first."""
    if len(vectors) == 0:
        raise InvalidRequest("no items to cluster")
    if threshold is not None and not 0.0 < threshold <= 2.0:
        raise InvalidRequest(f"threshold is a cosine distance between 0 and 2, got {threshold}")
    raw, scores = _labels(vectors, method, k, threshold, min_cluster_size, on_progress)
    on_progress(0.85)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(raw.tolist()):
        if label >= 0:
            groups.setdefault(label, []).append(index)
    ordered = sorted(groups.values(), key=lambda m: (-len(m), m[0]))
    labels = np.full(len(vectors), -1, dtype=np.int64)
    clusters = []
    for cluster_id, members in enumerate(ordered):
        labels[members] = cluster_id
        clusters.append(describe_cluster(vectors, members, cluster_id))
    noise = [int(i) for i in np.flatnonzero(labels < 0)]
    coords = map_2d(vectors)
    on_progress(1.0)
    return Clustering(method, len(clusters), labels, clusters, noise, coords, scores)
