"""Service results as the JSON bodies of CONTRACTS.md (also what a finished job holds as ``result``)."""

from __future__ import annotations

from typing import Any

from pixembed.services.analysis import ClusterReport
from pixembed.services.dedup import GROUP_RULE, SAFE_RULE, Catalogue, DedupResult, Group


def _round(value: float | None, places: int = 6) -> float | None:
    return None if value is None else round(float(value), places)


def dedup_body(cat: Catalogue, result: DedupResult) -> dict[str, Any]:
    """Items, pairs, groups and drop list by item id."""
    ids = cat.ids
    return {
        "method": result.method,
        "hash_threshold": result.hash_threshold,
        "similarity_threshold": result.similarity_threshold,
        "items": [
            {
                "id": ids[i],
                "name": cat.names[i],
                "width": cat.widths[i],
                "height": cat.heights[i],
                "bytes": cat.sizes[i],
            }
            for i in range(len(cat))
        ],
        "pairs": [
            {"a": ids[p.a], "b": ids[p.b], "distance": p.distance, "similarity": _round(p.similarity)}
            for p in result.pairs
        ],
        "groups": [_group(ids, g) for g in result.groups],
        "drop": [ids[i] for i in result.drop],
        "borderline": [ids[i] for i in result.borderline],
        "group_rule": GROUP_RULE,
        "safe_rule": SAFE_RULE,
    }


def _group(ids: list[str], group: Group) -> dict[str, Any]:
    """A group: members, keeper, safe drops, borderline copies, and each copy's evidence."""
    return {
        "members": [ids[i] for i in group.members],
        "keep": ids[group.keep],
        "drop": [ids[i] for i in group.drop],
        "borderline": [ids[i] for i in group.borderline],
        "copies": [
            {
                "id": ids[c.index],
                "distance": c.distance,
                "similarity": _round(c.similarity),
                "safe": c.safe,
                "reason": c.reason,
            }
            for c in group.copies
        ],
    }


def clustering_body(cat: Catalogue, report: ClusterReport, method: str) -> dict[str, Any]:
    """Clusters, noise and per-item cluster, label and map position by item id."""
    ids = cat.ids
    clustering = report.clustering
    clusters = []
    for cluster, named in zip(clustering.clusters, report.cluster_labels, strict=True):
        clusters.append(
            {
                "id": cluster.id,
                "members": [ids[i] for i in cluster.members],
                "medoid": ids[cluster.medoid],
                "cohesion": round(cluster.cohesion, 6),
                "label": named.label if named else None,
                "label_confidence": _round(named.confidence) if named else None,
            }
        )
    items = []
    for i, item_id in enumerate(ids):
        named = report.item_labels[i]
        label = int(clustering.labels[i])
        items.append(
            {
                "id": item_id,
                "name": cat.names[i],
                "cluster": label if label >= 0 else None,
                "label": named.label if named else None,
                "label_confidence": _round(named.confidence) if named else None,
                "x": round(float(clustering.coords[i][0]), 6),
                "y": round(float(clustering.coords[i][1]), 6),
            }
        )
    return {
        "method": method,
        "k": clustering.k,
        "silhouette_by_k": {str(k): round(v, 6) for k, v in clustering.silhouette_by_k.items()},
        "label_threshold": report.label_threshold,
        "clusters": clusters,
        "noise": [ids[i] for i in clustering.noise],
        "items": items,
    }
