"""Results of dedup, cluster, duplicate checks, detection and region embedding (shapes in CONTRACTS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pixembed.client.inputs import to_vector
from pixembed.client.types import Json, Vector, decode_png


@dataclass(frozen=True)
class DedupItem:
    """An image the dedup run looked at; posted-set ids are indexes as strings ("0", "1", ...)."""

    id: str
    name: str | None
    width: int | None
    height: int | None
    bytes: int | None


@dataclass(frozen=True)
class DuplicatePair:
    """Two items found alike: hash ``distance`` and/or cosine ``similarity``."""

    a: str
    b: str
    distance: int | None
    similarity: float | None


@dataclass(frozen=True)
class DuplicateGroup:
    """Copies of the kept item: the one to keep, the ones safe to drop, the borderline ones (kept)."""

    members: list[str]
    keep: str
    drop: list[str]
    borderline: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DedupResult:
    """Duplicate pairs and groups, every id safe to drop, the borderline copies (kept)."""

    method: str
    items: list[DedupItem]
    pairs: list[DuplicatePair]
    groups: list[DuplicateGroup]
    drop: list[str]
    borderline: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, body: Json) -> DedupResult:
        items = [
            DedupItem(str(i["id"]), i.get("name"), i.get("width"), i.get("height"), i.get("bytes"))
            for i in body.get("items", [])
        ]
        pairs = [
            DuplicatePair(str(p["a"]), str(p["b"]), p.get("distance"), p.get("similarity"))
            for p in body.get("pairs", [])
        ]
        groups = [
            DuplicateGroup(
                [str(m) for m in g["members"]],
                str(g["keep"]),
                [str(d) for d in g.get("drop", [])],
                [str(d) for d in g.get("borderline", [])],
            )
            for g in body.get("groups", [])
        ]
        drop = [str(d) for d in body.get("drop", [])]
        borderline = [str(d) for d in body.get("borderline", [])]
        return cls(body.get("method", ""), items, pairs, groups, drop, borderline)


@dataclass(frozen=True)
class Cluster:
    """A cluster: its members, its most central member, how tight it is, and its label if any."""

    id: int
    members: list[str]
    medoid: str | None
    cohesion: float | None
    label: str | None
    label_confidence: float | None


@dataclass(frozen=True)
class ClusterItem:
    """An item's cluster (None for noise), label, and place on the 2-D map."""

    id: str
    name: str | None
    cluster: int | None
    label: str | None
    label_confidence: float | None
    x: float
    y: float


@dataclass(frozen=True)
class ClusterResult:
    """Clusters, noise, and every item with its 2-D map position."""

    method: str
    k: int | None
    clusters: list[Cluster]
    noise: list[str]
    items: list[ClusterItem]

    @classmethod
    def from_json(cls, body: Json) -> ClusterResult:
        clusters = [
            Cluster(
                int(c["id"]),
                [str(m) for m in c["members"]],
                str(c["medoid"]) if c.get("medoid") is not None else None,
                c.get("cohesion"),
                c.get("label"),
                c.get("label_confidence"),
            )
            for c in body.get("clusters", [])
        ]
        items = [
            ClusterItem(
                str(i["id"]),
                i.get("name"),
                i.get("cluster"),
                i.get("label"),
                i.get("label_confidence"),
                float(i.get("x", 0.0)),
                float(i.get("y", 0.0)),
            )
            for i in body.get("items", [])
        ]
        return cls(
            body.get("method", ""), body.get("k"), clusters, [str(n) for n in body.get("noise", [])], items
        )


@dataclass(frozen=True)
class DuplicateMatch:
    """A stored item that a checked image duplicates."""

    id: str
    similarity: float | None
    distance: int | None


@dataclass(frozen=True)
class DuplicateCheck:
    """Whether an image duplicates something in a collection, and what."""

    is_duplicate: bool
    matches: list[DuplicateMatch]

    @classmethod
    def from_json(cls, body: Json) -> DuplicateCheck:
        matches = [
            DuplicateMatch(str(m["id"]), m.get("similarity"), m.get("distance"))
            for m in body.get("matches", [])
        ]
        return cls(bool(body["is_duplicate"]), matches)


Box = tuple[float, float, float, float]


def _box(values: Any) -> Box:
    x1, y1, x2, y2 = (float(v) for v in values)
    return (x1, y1, x2, y2)


@dataclass(frozen=True)
class Detection:
    """One detected object: its box in original-image pixels, label and score."""

    box: Box
    label: str
    class_id: int | None
    score: float
    area_ratio: float | None
    center_distance_ratio: float | None


@dataclass(frozen=True)
class DetectResult:
    """Detections, and the image with boxes drawn when asked for (PNG bytes)."""

    width: int
    height: int
    detector: str
    detections: list[Detection]
    image: bytes | None

    @classmethod
    def from_json(cls, body: Json) -> DetectResult:
        detections = [
            Detection(
                _box(d["box"]),
                d["label"],
                d.get("class_id"),
                float(d["score"]),
                d.get("area_ratio"),
                d.get("center_distance_ratio"),
            )
            for d in body.get("detections", [])
        ]
        return cls(
            body["width"], body["height"], body.get("detector", ""), detections, decode_png(body.get("image"))
        )


@dataclass(frozen=True)
class Region:
    """One region of an image: its box, vector, zero-shot tags and text relevance scores."""

    box: Box
    vector: Vector
    tags: list[tuple[str, float]]
    relevance: list[tuple[str, float]]


@dataclass(frozen=True)
class RegionsResult:
    """The regions of an image, each with its vector."""

    model: str
    dimensions: int
    regions: list[Region]

    @classmethod
    def from_json(cls, body: Json) -> RegionsResult:
        regions = [
            Region(
                _box(r["box"]),
                to_vector(r["vector"]),
                [(t["label"], float(t["score"])) for t in r.get("tags", [])],
                [(t["text"], float(t["score"])) for t in r.get("relevance", [])],
            )
            for r in body.get("regions", [])
        ]
        return cls(body["model"], body["dimensions"], regions)
