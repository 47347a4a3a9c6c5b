"""Perceptual hashes (ImageHash) and Hamming-distance search over them (a FAISS binary index).

Every hash here is 64 bits, kept as 16 hex characters (what ``str(imagehash.ImageHash)`` gives) in stored
metadata and as 8 ``uint8`` per row for search. All four hashes are taken from one greyscale copy of the
image reduced to at most ``HASH_SOURCE_SIDE`` pixels: ImageHash would otherwise resize the full-size photo
once per hash, and the reduction (box filter) changes no hash bit that matters for near-duplicates.

Two more pHashes are kept beside the four (``PHASH_VIEWS``), so that pHash comparisons survive the two
edits that move every pixel: ``phash_trimmed`` is the pHash of the picture with a uniform border cut off
(a frame added around a photo, or a scan's margin), ``phash_mirrored`` the pHash of that trimmed picture
mirrored left to right (a flipped copy). The pHash distance of two items is the smallest of: their pHashes,
their trimmed pHashes, and one's trimmed pHash against the other's mirrored one plus ``MIRROR_PENALTY``
bits (``phash_distance``): comparing mirrored views doubles the chances of a chance match (on generated
shapes a square and a mirrored star came within 12 bits), so a flipped match must be that much closer.

The ``combined`` dedup method compares all four hashes at once (``joint_distance``): each hash is also kept
for each of ``VIEWS`` (the border-trimmed picture, it mirrored, its centre two thirds, and that mirrored;
the stored keys are ``<method>_<view>``), and the joint distance of two items is the smallest, over the
pairs of views compared (``VIEW_PAIRS``), of the four hashes' summed distance (256 bits), plus
``MIRROR_PENALTY`` when one side is mirrored. Summing four hashes that see the picture differently (DCT,
gradients, mean, wavelets) averages out one hash's chance agreement; the centre view sees through crops and
the dark corners of a rotation (docs/benchmarks.md, "Duplicates").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import imagehash
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageOps

# faiss's stubs lack the binary-index range search; it is used untyped, as in store/index.py.
faiss: Any = importlib.import_module("faiss")

HashMethod = Literal["phash", "dhash", "ahash", "whash"]
HASH_METHODS: tuple[HashMethod, ...] = get_args(HashMethod)
PhashView = Literal["phash_trimmed", "phash_mirrored"]
PHASH_VIEWS: tuple[PhashView, ...] = get_args(PhashView)
View = Literal["trimmed", "mirrored", "centre", "centre_mirrored"]
VIEWS: tuple[View, ...] = get_args(View)
_VIEW_NAMES: dict[str, View] = {view: view for view in VIEWS}
MIRROR_PENALTY = 4
# The views ``joint_distance`` compares: (one item's view, the other's, bits added); None is the picture.
VIEW_PAIRS: tuple[tuple[View | None, View | None, int], ...] = (
    (None, None, 0),
    ("trimmed", "trimmed", 0),
    ("trimmed", "mirrored", MIRROR_PENALTY),
    ("mirrored", "trimmed", MIRROR_PENALTY),
    ("centre", "centre", 0),
    ("centre", "centre_mirrored", MIRROR_PENALTY),
    ("centre_mirrored", "centre", MIRROR_PENALTY),
)
# The centre view keeps the middle two thirds of the trimmed picture on each axis.
CENTRE_CUT = 1 / 6


def view_key(method: str, view: View | None) -> str:
    """The stored key of a hash of a view (``dhash_centre``); the method's own name for the picture."""
    return method if view is None else f"{method}_{view}"


# Every hash stored with an item: the four methods, pHash's two views (first, as stored since issue 17's
# first round), then every other view of every method.
STORED_HASHES: tuple[str, ...] = tuple(
    dict.fromkeys([*HASH_METHODS, *PHASH_VIEWS, *(view_key(m, v) for v in VIEWS for m in HASH_METHODS)])
)
# A border is cut only when its colour is this close (0-255 grey) to the corner's, and only when what is
# left keeps at least half the picture: a photo whose edges happen to be flat is not cropped to a detail.
BORDER_TOLERANCE = 12
BORDER_MIN_KEPT = 0.5
HASH_BITS = 64
HASH_SOURCE_SIDE = 256
# Queries per FAISS range search call: bounds the memory of one call's results.
QUERY_CHUNK = 4096

Codes = npt.NDArray[np.uint8]


def trim_border(grey: Image.Image) -> Image.Image:
    """``grey`` without a uniform border: cut by the top-left corner's colour, then the bottom-right's."""
    for corner in ((0, 0), (-1, -1)):
        width, height = grey.size
        colour = grey.getpixel((corner[0] % width, corner[1] % height))
        differs = ImageChops.difference(grey, Image.new("L", grey.size, colour))
        box = differs.point(lambda v: 255 if v > BORDER_TOLERANCE else 0).getbbox()
        kept = 0 if box is None else (box[2] - box[0]) * (box[3] - box[1])
        if box is not None and box != (0, 0, width, height) and kept >= BORDER_MIN_KEPT * width * height:
            grey = grey.crop(box)
    return grey


def centre(grey: Image.Image) -> Image.Image:
    """The middle of ``grey``: ``CENTRE_CUT`` of each side cut off."""
    width, height = grey.size
    dx, dy = int(width * CENTRE_CUT), int(height * CENTRE_CUT)
    return grey.crop((dx, dy, width - dx, height - dy))


_HASHERS: dict[str, Callable[[Image.Image], imagehash.ImageHash]] = {
    "phash": imagehash.phash,
    "dhash": imagehash.dhash,
    "ahash": imagehash.average_hash,
    "whash": imagehash.whash,
}
_VIEWERS: dict[View | None, Callable[[Image.Image], Image.Image]] = {
    None: lambda grey: grey,
    "trimmed": trim_border,
    "mirrored": lambda grey: ImageOps.mirror(trim_border(grey)),
    "centre": lambda grey: centre(trim_border(grey)),
    "centre_mirrored": lambda grey: ImageOps.mirror(centre(trim_border(grey))),
}


def hash_source(image: Image.Image) -> Image.Image:
    """The greyscale, reduced copy every hash is computed from."""
    grey = image.convert("L")
    if max(grey.size) > HASH_SOURCE_SIDE:
        grey.thumbnail((HASH_SOURCE_SIDE, HASH_SOURCE_SIDE), Image.Resampling.BOX)
    return grey


def image_hashes(image: Image.Image, keys: Sequence[str] = STORED_HASHES) -> dict[str, str]:
    """The hex string of each named hash (``phash``, ``dhash_centre``...) of ``image`` (by default every
    hash stored with an item)."""
    source = hash_source(image)
    views: dict[View | None, Image.Image] = {}
    found = {}
    for key in keys:
        method, _, view_name = key.partition("_")
        view = _VIEW_NAMES.get(view_name)
        if method not in _HASHERS or (view_name and view is None):
            raise ValueError(f"unknown hash {key!r}")
        if view not in views:
            views[view] = _VIEWERS[view](source)
        found[key] = str(_HASHERS[method](views[view]))
    return found


def views_of(methods: Sequence[str]) -> list[str]:
    """The stored keys of ``methods`` and all their views."""
    return [key for key in STORED_HASHES if key.partition("_")[0] in methods]


def codes_from_hex(hexes: Sequence[str]) -> Codes:
    """An (n, 8) uint8 matrix from 64-bit hex hashes."""
    codes = np.zeros((len(hexes), HASH_BITS // 8), dtype=np.uint8)
    for row, text in enumerate(hexes):
        codes[row] = np.frombuffer(bytes.fromhex(text), dtype=np.uint8)
    return codes


def hamming_distance(a: str, b: str) -> int:
    """Bits that differ between two hex hashes."""
    return int((int(a, 16) ^ int(b, 16)).bit_count())


def phash_distance(first: dict[str, str | None], second: dict[str, str | None]) -> int | None:
    """The pHash distance of two items from their stored hashes (see the module docstring): the smallest
    of the views both have; None when they share none."""
    views = [
        ("phash", "phash", 0),
        ("phash_trimmed", "phash_trimmed", 0),
        ("phash_trimmed", "phash_mirrored", MIRROR_PENALTY),
        ("phash_mirrored", "phash_trimmed", MIRROR_PENALTY),
    ]
    found = [
        hamming_distance(a, b) + penalty
        for a, b, penalty in ((first.get(x), second.get(y), p) for x, y, p in views)
        if a is not None and b is not None
    ]
    return min(found) if found else None


def joint_distance(
    first: dict[str, str | None], second: dict[str, str | None], methods: Sequence[str] = HASH_METHODS
) -> int | None:
    """The joint distance of two items (see the module docstring): the smallest, over ``VIEW_PAIRS`` both
    items have every method of, of the summed distances plus the pair's penalty; None when there is none."""
    found = []
    for one, other, penalty in VIEW_PAIRS:
        a = [first.get(view_key(m, one)) for m in methods]
        b = [second.get(view_key(m, other)) for m in methods]
        if all(h is not None for h in a + b):
            found.append(penalty + sum(hamming_distance(str(x), str(y)) for x, y in zip(a, b, strict=True)))
    return min(found) if found else None


def _binary_index(codes: Codes) -> Any:
    index = faiss.IndexBinaryFlat(HASH_BITS)
    index.add(np.ascontiguousarray(codes))
    return index


def hamming_pairs(
    codes: Codes, max_distance: int, on_progress: Callable[[float], None] = lambda _: None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every pair (a < b) of rows within ``max_distance`` bits, with its distance.

    FAISS's exact binary range search (popcount in C++, all cores it is allowed): at 100,000 hashes the
    whole all-pairs search takes seconds (docs/benchmarks.md), where a Python loop over pairs would not
    finish. FAISS's radius is exclusive, hence ``max_distance + 1``.
    """
    n = len(codes)
    index = _binary_index(codes)
    firsts, seconds, distances = [], [], []
    for start in range(0, n, QUERY_CHUNK):
        chunk = np.ascontiguousarray(codes[start : start + QUERY_CHUNK])
        limits, dist, found = index.range_search(chunk, max_distance + 1)
        queries = start + np.repeat(np.arange(len(chunk)), np.diff(limits).astype(np.int64))
        keep = found > queries
        firsts.append(queries[keep])
        seconds.append(found[keep].astype(np.int64))
        distances.append(dist[keep].astype(np.int64))
        on_progress(min(1.0, (start + len(chunk)) / max(n, 1)))
    if not firsts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(distances)


def hamming_cross_pairs(
    codes: Codes, queries: Codes, max_distance: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every (row of ``codes``, row of ``queries``) within ``max_distance`` bits: how one view of each item
    is searched against another view (the caller leaves out an item matched with itself)."""
    empty = np.zeros(0, np.int64)
    if len(codes) == 0 or len(queries) == 0 or max_distance < 0:
        return empty, empty
    index = _binary_index(codes)
    rows, found_by = [empty], [empty]
    for start in range(0, len(queries), QUERY_CHUNK):
        chunk = np.ascontiguousarray(queries[start : start + QUERY_CHUNK])
        limits, _, found = index.range_search(chunk, max_distance + 1)
        rows.append(found.astype(np.int64))
        found_by.append(start + np.repeat(np.arange(len(chunk)), np.diff(limits).astype(np.int64)))
    return np.concatenate(rows), np.concatenate(found_by)


def hamming_matches(
    codes: Codes, query: Codes, max_distance: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows of ``codes`` within ``max_distance`` bits of the one ``query`` hash, nearest first."""
    if len(codes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, dist, found = _binary_index(codes).range_search(query.reshape(1, -1), max_distance + 1)
    order = np.argsort(dist, kind="stable")
    return found[order].astype(np.int64), dist[order].astype(np.int64)
