"""Duplicates: pairs by perceptual hash and/or embedding cosine, groups, and which copy to keep.

Methods: ``phash``/``dhash``/``ahash``/``whash`` pair two items when their hashes differ in at most
``hash_threshold`` bits; ``semantic`` when their vectors' cosine is at least ``similarity_threshold``;
``combined`` takes the union of pHash pairs and semantic pairs (either evidence is enough), and reports
both the distance and the similarity of every pair. Groups are the connected components of the pairs
(scipy.sparse.csgraph). In each group one item is kept: the highest resolution, the largest file, or the
oldest; ties go to the item listed first. The defaults come from benchmarks/bench_dedup.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from pixembed.errors import InvalidRequest
from pixembed.services.hashing import HASH_BITS, HASH_METHODS, codes_from_hex, hamming_pairs
from pixembed.services.neighbours import similar_pairs

DedupMethod = Literal["phash", "dhash", "ahash", "whash", "semantic", "combined"]
DEDUP_METHODS: tuple[DedupMethod, ...] = get_args(DedupMethod)
KeepRule = Literal["resolution", "size", "oldest"]
KEEP_RULES: tuple[KeepRule, ...] = get_args(KeepRule)

# Chosen from the benchmark table (docs/benchmarks.md, "Duplicates"), favouring precision (>= 0.93) over
# the last points of F1: a false duplicate gets a user's photo moved away. The best-F1 thresholds (pHash
# and dHash 18) also joined different generated shapes in tests/dedup.
DEFAULT_HASH_THRESHOLDS: dict[str, int] = {"phash": 16, "dhash": 14, "ahash": 6, "whash": 6}
DEFAULT_SIMILARITY_THRESHOLD = 0.9
Vectors = npt.NDArray[np.float32]
Progress = Callable[[float], None]


@dataclass
class Catalogue:
    """The items to deduplicate or cluster: ids, what is known of each file, vectors and hashes.

    ``ages`` orders items for ``keep="oldest"`` (a file's mtime, an item's stored ``added_at``, or the
    position in a posted set); ``hashes`` maps a hash method to each item's hex hash (None where unknown,
    e.g. an item stored as a bare vector).
    """

    ids: list[str]
    names: list[str | None]
    widths: list[int | None]
    heights: list[int | None]
    sizes: list[int | None]
    ages: list[float | None]
    vectors: Vectors | None = None
    hashes: dict[str, list[str | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Pair:
    """Two items (indices into the catalogue) judged duplicates, with the evidence."""

    a: int
    b: int
    distance: int | None
    similarity: float | None


@dataclass(frozen=True)
class Group:
    """A connected set of duplicates, the one to keep and the rest."""

    members: list[int]
    keep: int
    drop: list[int]


@dataclass(frozen=True)
class DedupResult:
    """Pairs, groups and everything to drop, as indices into the catalogue."""

    method: DedupMethod
    hash_threshold: int | None
    similarity_threshold: float | None
    pairs: list[Pair]
    groups: list[Group]
    drop: list[int]


def check_method(method: str) -> DedupMethod:
    """The method, or a 400 that lists the valid ones."""
    if method not in DEDUP_METHODS:
        raise InvalidRequest(f"unknown dedup method {method!r}: use one of {', '.join(DEDUP_METHODS)}")
    return method


def check_keep(keep: str) -> KeepRule:
    """The keep rule, or a 400 that lists the valid ones."""
    if keep not in KEEP_RULES:
        raise InvalidRequest(f"unknown keep rule {keep!r}: use one of {', '.join(KEEP_RULES)}")
    return keep


def resolve_thresholds(
    method: DedupMethod, hash_threshold: int | None, similarity_threshold: float | None
) -> tuple[int | None, float | None]:
    """The thresholds a method uses (defaults filled in), refusing values out of range."""
    if hash_threshold is not None and not 0 <= hash_threshold <= HASH_BITS:
        raise InvalidRequest(f"hash_threshold must be between 0 and {HASH_BITS} bits, got {hash_threshold}")
    if similarity_threshold is not None and not -1.0 <= similarity_threshold <= 1.0:
        raise InvalidRequest(
            f"similarity_threshold is a cosine similarity between -1 and 1, got {similarity_threshold}"
        )
    hash_method = "phash" if method == "combined" else method
    uses_hash = method != "semantic"
    uses_vectors = method in ("semantic", "combined")
    bits = (
        (hash_threshold if hash_threshold is not None else DEFAULT_HASH_THRESHOLDS[hash_method])
        if (uses_hash)
        else None
    )
    cosine = (
        (similarity_threshold if similarity_threshold is not None else DEFAULT_SIMILARITY_THRESHOLD)
        if uses_vectors
        else None
    )
    return bits, cosine


def needs_vectors(method: DedupMethod) -> bool:
    """Whether the method compares embeddings."""
    return method in ("semantic", "combined")


def hash_method_of(method: DedupMethod) -> str | None:
    """The perceptual hash a method compares (pHash for ``combined``), or None for ``semantic``."""
    return "phash" if method == "combined" else (None if method == "semantic" else method)


def _hash_pairs(cat: Catalogue, method: str, bits: int, on_progress: Progress) -> dict[tuple[int, int], int]:
    known = [(i, h) for i, h in enumerate(cat.hashes.get(method, [])) if h is not None]
    if len(known) < 2:
        return {}
    rows = np.array([i for i, _ in known], dtype=np.int64)
    a, b, dist = hamming_pairs(codes_from_hex([h for _, h in known]), bits, on_progress)
    return {(int(rows[x]), int(rows[y])): int(d) for x, y, d in zip(a, b, dist, strict=True)}


def _vector_pairs(cat: Catalogue, cosine: float, on_progress: Progress) -> dict[tuple[int, int], float]:
    assert cat.vectors is not None
    a, b, sims = similar_pairs(cat.vectors, cosine, on_progress)
    return {(int(x), int(y)): float(s) for x, y, s in zip(a, b, sims, strict=True)}


def _evidence(cat: Catalogue, method: str, pair: tuple[int, int]) -> tuple[int | None, float | None]:
    """Both measures of a pair that one search found, so ``combined`` reports each."""
    hashes = cat.hashes.get(method, [])
    first, second = (hashes[pair[0]], hashes[pair[1]]) if hashes else (None, None)
    distance = None
    if first is not None and second is not None:
        distance = int((int(first, 16) ^ int(second, 16)).bit_count())
    similarity = None
    if cat.vectors is not None:
        similarity = float(min(1.0, float(cat.vectors[pair[0]] @ cat.vectors[pair[1]])))
    return distance, similarity


def _key(cat: Catalogue, index: int, keep: KeepRule) -> tuple[float, int]:
    """Sort key: the best item to keep sorts first; ties go to the earlier item."""
    if keep == "resolution":
        width, height = cat.widths[index], cat.heights[index]
        return (-float(width * height) if width and height else 0.0, index)
    if keep == "size":
        size = cat.sizes[index]
        return (-float(size) if size is not None else 0.0, index)
    age = cat.ages[index]
    return (age if age is not None else float("inf"), index)


def group_pairs(cat: Catalogue, pairs: list[Pair], keep: KeepRule) -> list[Group]:
    """Connected components of the pair graph, each with its keeper; biggest groups first."""
    from scipy.sparse import coo_matrix  # imported here: scipy.sparse adds a second to every start
    from scipy.sparse.csgraph import connected_components

    if not pairs:
        return []
    n = len(cat)
    a = np.array([p.a for p in pairs])
    b = np.array([p.b for p in pairs])
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    in_pairs = np.unique(np.concatenate([a, b]))
    members: dict[int, list[int]] = {}
    for index in in_pairs:
        members.setdefault(int(labels[index]), []).append(int(index))
    groups = []
    for group in members.values():
        best = min(group, key=lambda i: _key(cat, i, keep))
        groups.append(Group(sorted(group), best, [i for i in sorted(group) if i != best]))
    return sorted(groups, key=lambda g: (-len(g.members), g.members[0]))


def find_duplicates(
    cat: Catalogue,
    method: DedupMethod,
    hash_threshold: int | None = None,
    similarity_threshold: float | None = None,
    keep: KeepRule = "resolution",
    on_progress: Progress = lambda _: None,
) -> DedupResult:
    """Pairs, groups and the drop list of a catalogue, by the method and thresholds given."""
    bits, cosine = resolve_thresholds(method, hash_threshold, similarity_threshold)
    hash_method = hash_method_of(method)
    found: dict[tuple[int, int], tuple[int | None, float | None]] = {}
    if hash_method is not None and bits is not None:
        share = 0.5 if cosine is not None else 1.0
        for pair, dist in _hash_pairs(cat, hash_method, bits, lambda f: on_progress(f * share)).items():
            found[pair] = (dist, None)
    if cosine is not None:
        if cat.vectors is None:
            raise InvalidRequest(f"method {method!r} needs embeddings, and these items have none")
        start = 0.5 if hash_method is not None else 0.0
        for pair, sim in _vector_pairs(cat, cosine, lambda f: on_progress(start + f * (1 - start))).items():
            found[pair] = (found.get(pair, (None, None))[0], sim)
    pairs = []
    for pair in sorted(found):
        distance, similarity = found[pair]
        if method == "combined":
            distance, similarity = _evidence(cat, "phash", pair)
        pairs.append(Pair(pair[0], pair[1], distance, similarity))
    groups = group_pairs(cat, pairs, keep)
    drop = sorted(i for g in groups for i in g.drop)
    on_progress(1.0)
    return DedupResult(method, bits, cosine, pairs, groups, drop)


def known_hash_methods() -> tuple[str, ...]:
    """The perceptual hashes stored with items and compared by the hash methods."""
    return HASH_METHODS
