"""Duplicates: pairs by perceptual hash and/or embedding cosine, groups that never chain, a safe drop list.

Methods: ``phash``/``dhash``/``ahash``/``whash`` pair two items when their hashes differ in at most
``hash_threshold`` bits (pHash: the smallest distance over its stored views, which see through a frame
and a flip; see ``services.hashing``); ``semantic`` when their vectors' cosine is at least
``similarity_threshold``; ``combined`` (the default) only when both hold: the four hashes' *joint* distance
(pHash + dHash + aHash + wHash of the same view of both pictures, 256 bits, the smallest over the views:
the picture, border-trimmed, mirrored, centre; ``hashing.joint_distance``) within ``hash_threshold`` *and*
cosine at or above its own, so a pair needs the pixels and the content to agree (hashes see grey levels
only: a red and a green circle hash alike; the embedding tells them apart). Every pair reports its
distance (the joint one for ``combined``) and cosine when known.

Groups (star linkage): items are taken best-first by the keep rule (highest resolution, largest file, or
oldest; ties go to the item listed first). The first item not yet in a group becomes a keeper, and its group
is every item not yet in a group that is *within the threshold of the keeper itself*. So every member of a
group is a duplicate of the item kept, and a borderline pair between two copies can never merge two groups
(connected components did: a chain A~B~C joined A and C however far apart).

Safe drops: a copy is dropped (moved by the CLI) only when it is inside the threshold by a margin
(``MARGIN`` of the threshold's range: 4 bits of pHash 14, 0.0125 of cosine 0.95) or its pair with the
keeper is confirmed by a second hash within its strict threshold (``CONFIRM_THRESHOLDS``: dHash 8 bits; pHash
4 bits for the dHash method).
Other members are ``borderline``: reported, never dropped.

The defaults come from benchmarks/bench_dedup.py (docs/benchmarks.md, "Duplicates"): chosen on the
precision of the pairs the *groups* imply (what a move acts on), >= 0.98 on real photographs and on
generated shapes, with a stereo pair (two lenses, one scene) counted as two different photographs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from pixembed.errors import InvalidRequest
from pixembed.services.hashing import (
    HASH_BITS,
    HASH_METHODS,
    MIRROR_PENALTY,
    PHASH_VIEWS,
    VIEW_PAIRS,
    Codes,
    codes_from_hex,
    hamming_cross_pairs,
    hamming_distance,
    hamming_pairs,
    joint_distance,
    phash_distance,
    view_key,
    views_of,
)
from pixembed.services.neighbours import similar_pairs

DedupMethod = Literal["phash", "dhash", "ahash", "whash", "semantic", "combined"]
DEDUP_METHODS: tuple[DedupMethod, ...] = get_args(DedupMethod)
KeepRule = Literal["resolution", "size", "oldest"]
KEEP_RULES: tuple[KeepRule, ...] = get_args(KeepRule)

# One default method for the CLI, the API and the web page (see the module docstring).
DEFAULT_METHOD: DedupMethod = "combined"
# Each the threshold of best group F1 among those with group precision >= 0.98 on the photographs when a
# stereo pair's halves were not counted as different photographs (docs/benchmarks.md, "Duplicates");
# counting them, pHash 14 reaches 0.92 and dHash 12 0.93 (dHash 8: 0.99). A hash alone sees grey levels
# only: on generated shapes no hash threshold passes 0.8 (same shape, other colour), which is why the
# default method is ``combined``.
DEFAULT_HASH_THRESHOLDS: dict[str, int] = {"phash": 14, "dhash": 12, "ahash": 2, "whash": 4}
DEFAULT_SIMILARITY_THRESHOLD = 0.95
# ``combined``: the joint distance of the four hashes (of 256 bits) and the cosine. Chosen on half the
# benchmark's photographs (the selection half, which holds its stereo pair) with the vectors of both models
# that run offline (pixembed-tiny and the photo model efficientnet-lite0): group precision >= 0.98 there for
# both and on the generated shapes, then the largest F1 of the weaker model; reported on the held-out half
# and on all (docs/benchmarks.md, "Duplicates"). A real photo model's cosine lets more of the stereo pair's
# copies through than the shape model's, which is what holds the threshold down (38 bits, cosine 0.8:
# group precision 0.995 with pixembed-tiny, 0.951 with efficientnet-lite0).
COMBINED_HASH_THRESHOLD = 33
COMBINED_SIMILARITY_THRESHOLD = 0.75
JOINT_BITS = len(HASH_METHODS) * HASH_BITS
# A copy is safe to drop when it sits inside the threshold by this share of the threshold's range.
MARGIN = 0.25
# Or when a second hash confirms it within that hash's strict threshold: the largest at which its own pairs
# held precision >= 0.98 on the real photographs (dHash 8: 0.998, pHash 4: 0.982; docs/benchmarks.md). The
# hashes' default thresholds (dHash 12, pHash 14) group too loosely to vouch for a move.
CONFIRM_THRESHOLDS = {"dhash": 8, "phash": 4}
# The two rules in words, for reports and the API: what a group guarantees, and what a safe drop is.
GROUP_RULE = (
    "star linkage: keepers are taken best-first by the keep rule, and each group holds only items within "
    "the threshold of its keeper, so a borderline pair between two copies never merges two groups; for "
    "combined, within means the joint distance of pHash, dHash, aHash and wHash (the smallest over the "
    "picture, border-trimmed, mirrored and centre views) and the cosine both within their thresholds"
)
SAFE_RULE = (
    f"a copy is dropped (moved) only when it is inside the threshold by {MARGIN:.0%} of the threshold's "
    f"range, or its pair with the keeper is confirmed by a second hash (dHash within "
    f"{CONFIRM_THRESHOLDS['dhash']} bits; pHash within {CONFIRM_THRESHOLDS['phash']} for the dHash method); "
    "other members are borderline: reported, never dropped"
)
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
class Copy:
    """A group member other than the keeper: its evidence against the keeper and whether it is safe to drop.

    ``reason`` says why: ``"margin"`` (inside the threshold by the margin), ``"confirmed by dhash"``
    (or another second method), or ``"borderline"``.
    """

    index: int
    distance: int | None
    similarity: float | None
    safe: bool
    reason: str


@dataclass(frozen=True)
class Group:
    """A keeper and its copies (each within the threshold of the keeper); ``drop`` are the safe ones."""

    members: list[int]
    keep: int
    drop: list[int]
    borderline: list[int]
    copies: list[Copy]


@dataclass(frozen=True)
class DedupResult:
    """Pairs, groups, what is safe to drop and what is borderline, as indices into the catalogue."""

    method: DedupMethod
    hash_threshold: int | None
    similarity_threshold: float | None
    pairs: list[Pair]
    groups: list[Group]
    drop: list[int]
    borderline: list[int]


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


def needs_vectors(method: DedupMethod) -> bool:
    """Whether the method compares embeddings."""
    return method in ("semantic", "combined")


def hash_method_of(method: DedupMethod) -> str | None:
    """The perceptual hash a method compares (``combined``: all four, jointly), or None for ``semantic``."""
    return None if method == "semantic" else method


def compared_keys(method: str) -> list[str]:
    """The stored hash keys a method's distance reads: pHash's views, every view of all four for
    ``combined``, none for ``semantic``."""
    own = {"semantic": [], "combined": views_of(HASH_METHODS), "phash": ["phash", *PHASH_VIEWS]}
    return own.get(method, [method])


def hashes_needed(method: DedupMethod) -> list[str]:
    """The stored hash keys a method compares, and the one that confirms a safe drop."""
    return list(dict.fromkeys([*compared_keys(method), confirming_hash(method)]))


def confirming_hash(method: DedupMethod) -> str:
    """The second method that can confirm a pair for a safe drop: dHash, or pHash for the dHash method."""
    return "phash" if method == "dhash" else "dhash"


def resolve_thresholds(
    method: DedupMethod, hash_threshold: int | None, similarity_threshold: float | None
) -> tuple[int | None, float | None]:
    """The thresholds a method uses (defaults filled in), refusing values out of range."""
    most = JOINT_BITS if method == "combined" else HASH_BITS
    if hash_threshold is not None and not 0 <= hash_threshold <= most:
        what = "bits (the four hashes' joint distance)" if method == "combined" else "bits"
        raise InvalidRequest(f"hash_threshold must be between 0 and {most} {what}, got {hash_threshold}")
    if similarity_threshold is not None and not -1.0 <= similarity_threshold <= 1.0:
        raise InvalidRequest(
            f"similarity_threshold is a cosine similarity between -1 and 1, got {similarity_threshold}"
        )
    hash_method = hash_method_of(method)
    bits = None
    if hash_method is not None:
        default_bits = (
            COMBINED_HASH_THRESHOLD if method == "combined" else DEFAULT_HASH_THRESHOLDS[hash_method]
        )
        bits = hash_threshold if hash_threshold is not None else default_bits
    cosine = None
    if needs_vectors(method):
        default_cosine = (
            COMBINED_SIMILARITY_THRESHOLD if method == "combined" else DEFAULT_SIMILARITY_THRESHOLD
        )
        cosine = similarity_threshold if similarity_threshold is not None else default_cosine
    return bits, cosine


def _view(cat: Catalogue, key: str) -> tuple[npt.NDArray[np.int64], Codes]:
    """The items that have hash ``key`` and their codes."""
    known = [(i, h) for i, h in enumerate(cat.hashes.get(key, [])) if h is not None]
    return np.array([i for i, _ in known], dtype=np.int64), codes_from_hex([h for _, h in known])


def _within(cat: Catalogue, key: str, bits: int, on_progress: Progress) -> dict[tuple[int, int], int]:
    """Pairs of items whose hash ``key`` differs in at most ``bits`` bits, with the distance."""
    rows, codes = _view(cat, key)
    if len(rows) < 2:
        return {}
    a, b, dist = hamming_pairs(codes, bits, on_progress)
    return {(int(rows[x]), int(rows[y])): int(d) for x, y, d in zip(a, b, dist, strict=True)}


def _crossed(cat: Catalogue, key: str, other: str, bits: int) -> set[tuple[int, int]]:
    """Pairs of two items (a < b) where one's hash ``key`` is within ``bits`` of the other's ``other``."""
    (rows, codes), (queries, asked) = _view(cat, key), _view(cat, other)
    x, y = hamming_cross_pairs(codes, asked, bits)
    crossed = zip(rows[x].tolist(), queries[y].tolist(), strict=True)
    return {(min(a, b), max(a, b)) for a, b in crossed if a != b}


def _hash_pairs(cat: Catalogue, method: str, bits: int, on_progress: Progress) -> dict[tuple[int, int], int]:
    """Pairs within ``bits`` of a hash method; for pHash, within ``bits`` in any of its views (the pHash,
    the border-trimmed pHash, trimmed against mirrored), each with its smallest distance."""
    if method != "phash":
        return _within(cat, method, bits, on_progress)
    candidates = set(_within(cat, "phash", bits, lambda f: on_progress(f / 3)))
    candidates.update(_within(cat, "phash_trimmed", bits, lambda f: on_progress((1 + f) / 3)))
    candidates.update(_crossed(cat, "phash_trimmed", "phash_mirrored", bits - MIRROR_PENALTY))
    on_progress(1.0)
    found = {pair: _distance(cat, "phash", *pair) for pair in candidates}
    return {pair: d for pair, d in found.items() if d is not None and d <= bits}


def _joint_pairs(cat: Catalogue, bits: int, on_progress: Progress) -> dict[tuple[int, int], int]:
    """Pairs whose joint distance is within ``bits``. Candidates are exact: a sum of four distances within
    ``bits`` has one of them within a quarter of it, so each view pair and hash is range-searched at that
    radius (FAISS), and the joint distance is then taken for the candidates only."""
    candidates: set[tuple[int, int]] = set()
    # A cross search (trimmed against mirrored) finds both orders: the mirrored-then-trimmed pair is skipped.
    searches = [(a, b, pen) for k, (a, b, pen) in enumerate(VIEW_PAIRS) if (b, a, pen) not in VIEW_PAIRS[:k]]
    for step, (one, other, penalty) in enumerate(searches):
        radius = (bits - penalty) // len(HASH_METHODS)
        for method in HASH_METHODS:
            if one == other:
                candidates.update(_within(cat, view_key(method, one), radius, lambda _: None))
                continue
            candidates.update(_crossed(cat, view_key(method, one), view_key(method, other), radius))
        on_progress((step + 1) / len(searches))
    found = {pair: _distance(cat, "combined", *pair) for pair in candidates}
    return {pair: d for pair, d in found.items() if d is not None and d <= bits}


def _vector_pairs(cat: Catalogue, cosine: float, on_progress: Progress) -> dict[tuple[int, int], float]:
    assert cat.vectors is not None
    a, b, sims = similar_pairs(cat.vectors, cosine, on_progress)
    return {(int(x), int(y)): float(s) for x, y, s in zip(a, b, sims, strict=True)}


def _distance(cat: Catalogue, method: str, a: int, b: int) -> int | None:
    """Bits between two items' hashes of ``method`` (for pHash: the smallest over its views), or None when
    either is unknown."""
    keys = compared_keys(method)
    first: dict[str, str | None] = {k: cat.hashes[k][a] for k in keys if cat.hashes.get(k)}
    second: dict[str, str | None] = {k: cat.hashes[k][b] for k in keys if cat.hashes.get(k)}
    if method == "combined":
        return joint_distance(first, second)
    if method == "phash":
        return phash_distance(first, second)
    one, other = first.get(method), second.get(method)
    return None if one is None or other is None else hamming_distance(one, other)


def _similarity(cat: Catalogue, a: int, b: int) -> float | None:
    return None if cat.vectors is None else float(min(1.0, float(cat.vectors[a] @ cat.vectors[b])))


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


def star_groups(n_items: int, pairs: list[Pair], order: list[int]) -> list[tuple[int, list[int]]]:
    """Keepers and their members: each keeper, taken in ``order``, gathers its unassigned neighbours.

    Written here because the guarantee is the point: a member is always a direct neighbour (a pair within
    the threshold) of its keeper. scikit-learn's and scipy's linkages either chain (single), or need the
    full n x n distance matrix (complete; and they also merge fewer true copies on the benchmark).
    """
    neighbours: dict[int, list[int]] = {}
    for pair in pairs:
        neighbours.setdefault(pair.a, []).append(pair.b)
        neighbours.setdefault(pair.b, []).append(pair.a)
    assigned = np.zeros(n_items, dtype=bool)
    groups = []
    for index in order:
        if assigned[index] or index not in neighbours:
            continue
        members = sorted(j for j in neighbours[index] if not assigned[j])
        if not members:
            continue
        assigned[index] = True
        assigned[members] = True
        groups.append((index, members))
    return groups


def _copy(
    cat: Catalogue, method: DedupMethod, keeper: int, pair: Pair, limits: tuple[int | None, float | None]
) -> Copy:
    """A member's evidence against its keeper, and whether the margin or a second method makes it safe."""
    bits, cosine = limits
    member = pair.b if pair.a == keeper else pair.a
    inside = True
    if bits is not None:
        inside &= pair.distance is not None and pair.distance <= bits - math.ceil(MARGIN * bits)
    if cosine is not None:
        inside &= pair.similarity is not None and pair.similarity >= cosine + MARGIN * (1.0 - cosine)
    if inside:
        return Copy(member, pair.distance, pair.similarity, True, "margin")
    second = confirming_hash(method)
    confirm = _distance(cat, second, keeper, member)
    if confirm is not None and confirm <= CONFIRM_THRESHOLDS[second]:
        return Copy(member, pair.distance, pair.similarity, True, f"confirmed by {second} ({confirm} bits)")
    return Copy(member, pair.distance, pair.similarity, False, "borderline")


def group_pairs(
    cat: Catalogue,
    pairs: list[Pair],
    keep: KeepRule,
    method: DedupMethod = DEFAULT_METHOD,
    limits: tuple[int | None, float | None] = (None, None),
) -> list[Group]:
    """Star groups of the pairs (see the module docstring), each with its keeper; biggest first."""
    if not pairs:
        return []
    involved = sorted({p.a for p in pairs} | {p.b for p in pairs}, key=lambda i: _key(cat, i, keep))
    by_items = {(p.a, p.b): p for p in pairs}
    groups = []
    for keeper, members in star_groups(len(cat), pairs, involved):
        copies = [
            _copy(cat, method, keeper, by_items[(min(keeper, m), max(keeper, m))], limits) for m in members
        ]
        groups.append(
            Group(
                members=sorted([keeper, *members]),
                keep=keeper,
                drop=[c.index for c in copies if c.safe],
                borderline=[c.index for c in copies if not c.safe],
                copies=copies,
            )
        )
    return sorted(groups, key=lambda g: (-len(g.members), g.members[0]))


def _find_pairs(
    cat: Catalogue,
    method: DedupMethod,
    bits: int | None,
    cosine: float | None,
    on_progress: Progress,
) -> list[Pair]:
    """Pairs by the method: hash pairs, cosine pairs, or (``combined``) pairs within the joint distance
    whose cosine also holds (a pair with a hash unknown in every view has no joint distance: no pair)."""
    hash_method = hash_method_of(method)
    if cosine is not None and cat.vectors is None:
        raise InvalidRequest(f"method {method!r} needs embeddings, and these items have none")
    if hash_method is not None and bits is not None:
        if method == "combined":
            found = _joint_pairs(cat, bits, on_progress)
        else:
            found = _hash_pairs(cat, hash_method, bits, on_progress)
        pairs = [Pair(a, b, d, _similarity(cat, a, b)) for (a, b), d in sorted(found.items())]
        if cosine is not None:
            pairs = [p for p in pairs if p.similarity is not None and p.similarity >= cosine]
        return pairs
    assert cosine is not None
    similar = _vector_pairs(cat, cosine, on_progress)
    return [Pair(a, b, _distance(cat, "phash", a, b), s) for (a, b), s in sorted(similar.items())]


def find_duplicates(
    cat: Catalogue,
    method: DedupMethod = DEFAULT_METHOD,
    hash_threshold: int | None = None,
    similarity_threshold: float | None = None,
    keep: KeepRule = "resolution",
    on_progress: Progress = lambda _: None,
) -> DedupResult:
    """Pairs, star groups, the safe drop list and the borderline copies of a catalogue."""
    bits, cosine = resolve_thresholds(method, hash_threshold, similarity_threshold)
    pairs = _find_pairs(cat, method, bits, cosine, on_progress)
    groups = group_pairs(cat, pairs, keep, method, (bits, cosine))
    drop = sorted(i for g in groups for i in g.drop)
    borderline = sorted(i for g in groups for i in g.borderline)
    on_progress(1.0)
    return DedupResult(method, bits, cosine, pairs, groups, drop, borderline)


def known_hash_methods() -> tuple[str, ...]:
    """The perceptual hashes stored with items and compared by the hash methods."""
    return HASH_METHODS
