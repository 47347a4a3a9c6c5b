"""Perceptual hashes (ImageHash) and Hamming-distance search over them (a FAISS binary index).

Every hash here is 64 bits, kept as 16 hex characters (what ``str(imagehash.ImageHash)`` gives) in stored
metadata and as 8 ``uint8`` per row for search. All four hashes are taken from one greyscale copy of the
image reduced to at most ``HASH_SOURCE_SIDE`` pixels: ImageHash would otherwise resize the full-size photo
once per hash, and the reduction (box filter) changes no hash bit that matters for near-duplicates.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import imagehash
import numpy as np
import numpy.typing as npt
from PIL import Image

# faiss's stubs lack the binary-index range search; it is used untyped, as in store/index.py.
faiss: Any = importlib.import_module("faiss")

HashMethod = Literal["phash", "dhash", "ahash", "whash"]
HASH_METHODS: tuple[HashMethod, ...] = get_args(HashMethod)
HASH_BITS = 64
HASH_SOURCE_SIDE = 256
# Queries per FAISS range search call: bounds the memory of one call's results.
QUERY_CHUNK = 4096

Codes = npt.NDArray[np.uint8]
_HASHERS: dict[HashMethod, Callable[[Image.Image], imagehash.ImageHash]] = {
    "phash": imagehash.phash,
    "dhash": imagehash.dhash,
    "ahash": imagehash.average_hash,
    "whash": imagehash.whash,
}


def hash_source(image: Image.Image) -> Image.Image:
    """The greyscale, reduced copy every hash is computed from."""
    grey = image.convert("L")
    if max(grey.size) > HASH_SOURCE_SIDE:
        grey.thumbnail((HASH_SOURCE_SIDE, HASH_SOURCE_SIDE), Image.Resampling.BOX)
    return grey


def image_hashes(image: Image.Image, methods: Sequence[HashMethod] = HASH_METHODS) -> dict[str, str]:
    """The hex string of each named hash of ``image``."""
    source = hash_source(image)
    return {method: str(_HASHERS[method](source)) for method in methods}


def codes_from_hex(hexes: Sequence[str]) -> Codes:
    """An (n, 8) uint8 matrix from 64-bit hex hashes."""
    codes = np.zeros((len(hexes), HASH_BITS // 8), dtype=np.uint8)
    for row, text in enumerate(hexes):
        codes[row] = np.frombuffer(bytes.fromhex(text), dtype=np.uint8)
    return codes


def hamming_distance(a: str, b: str) -> int:
    """Bits that differ between two hex hashes."""
    return int((int(a, 16) ^ int(b, 16)).bit_count())


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


def hamming_matches(
    codes: Codes, query: Codes, max_distance: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows of ``codes`` within ``max_distance`` bits of the one ``query`` hash, nearest first."""
    if len(codes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    _, dist, found = _binary_index(codes).range_search(query.reshape(1, -1), max_distance + 1)
    order = np.argsort(dist, kind="stable")
    return found[order].astype(np.int64), dist[order].astype(np.int64)
