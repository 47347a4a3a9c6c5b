"""Semantic duplicates and "more like this" on real photographs, with the real photo model.

The offline photo model ``efficientnet-lite0`` (docs/photo-model.md) against pHash, on the dedup
benchmark's photographs (``benchmarks/dedup_sets.py``: 30 photographs the installed packages ship, each
with 21 edits; the stereo pair counted as two different photographs):

- dedup: pair and group precision, recall and F1 of ``semantic`` (the photo model's cosine) over a sweep
  of thresholds, of pHash at its thresholds, and of ``combined`` (the default rule) with the photo model's
  cosine in place of the bundled pixembed-tiny's; on the generated shapes too for the rows that use an
  embedding, since a default must hold on both.
- retrieval: every file queries the other 659; its relevant items are the 21 other files of the same
  photograph. Recall@k is the share of queries with at least one relevant item in the top k; mAP the
  mean average precision over the whole ranking. Rankings: the photo model's cosine, pHash's Hamming
  distance (the smallest over its views), and the four hashes' joint distance (``combined``'s hash part).
  Hamming distances tie a lot: ties are broken at random (seed 0), so a tie is neither a win nor a loss.
- per edit: the original as the query, how many files of other photographs rank ahead of its edited
  copy (none: the copy is found before any other photograph), per ranking; and the share of the
  (original, edited copy) pairs that semantic dedup, pHash and the default pair: where each method loses.

    PYTHONPATH=src python benchmarks/bench_photo_semantic.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from bench_dedup import Truth, found_pairs, make_catalogue, safe_drops  # beside this script
from dedup_sets import EDITS, write_photo_set, write_shape_sets

from pixembed.runtime.loading import load_model
from pixembed.services.dedup import (
    COMBINED_HASH_THRESHOLD,
    COMBINED_SIMILARITY_THRESHOLD,
    DEFAULT_HASH_THRESHOLDS,
    Catalogue,
    DedupMethod,
    find_duplicates,
)
from pixembed.services.hashing import STORED_HASHES, joint_distance, phash_distance

PHOTO_MODEL = "efficientnet-lite0"
KS = (1, 5, 10)
Distances = npt.NDArray[np.float64]
Row = tuple[str, DedupMethod, int | None, float | None]


def dedup_rows() -> list[Row]:
    """(label, method, hash bits, cosine) of every dedup row."""
    rows: list[Row] = [
        (f"semantic, {PHOTO_MODEL}", "semantic", None, c) for c in (0.8, 0.85, 0.88, 0.9, 0.92, 0.95)
    ]
    rows += [("pHash", "phash", bits, None) for bits in (4, 8, 10, 12, DEFAULT_HASH_THRESHOLDS["phash"], 16)]
    rows += [
        (f"combined, {PHOTO_MODEL}", "combined", COMBINED_HASH_THRESHOLD, c)
        for c in sorted({0.6, 0.7, COMBINED_SIMILARITY_THRESHOLD, 0.8, 0.85, 0.9})
    ]
    rows += [(f"combined, {PHOTO_MODEL}", "combined", bits, 0.8) for bits in (38, 46)]
    return rows


def dedup_table(title: str, cat: Catalogue, truth: Truth, only_embedding_rows: bool) -> None:
    print(f"\n### Dedup, {title}: {len(cat)} files, {len(truth.positive)} duplicate pairs\n")
    print("| method | hash bits | cosine | pair P | pair R | pair F1 | group P | group R | group F1 "
          "| safe drops | of which not copies |\n|" + "---|" * 11)  # fmt: skip
    for label, method, bits, cosine in dedup_rows():
        if only_embedding_rows and cosine is None:
            continue
        result = find_duplicates(cat, method, hash_threshold=bits, similarity_threshold=cosine)
        pairs, grouped = found_pairs(cat, result)
        p, r, f = truth.score(pairs)
        gp, gr, gf = truth.score(grouped)
        drops, wrong, _ = safe_drops(cat, result, truth)
        figures = " | ".join(f"{x:.3f}" for x in (p, r, f, gp, gr, gf))
        print(f"| {label} | {'' if bits is None else bits} | {'' if cosine is None else cosine} "
              f"| {figures} | {drops} | {wrong} |")  # fmt: skip


def hash_matrix(
    cat: Catalogue, distance: Callable[[dict[str, str | None], dict[str, str | None]], int | None]
) -> Distances:
    """All-pairs distances from each item's stored hashes."""
    items = [{key: values[i] for key, values in cat.hashes.items()} for i in range(len(cat))]
    n = len(items)
    out = np.zeros((n, n))
    for a in range(n):
        for b in range(a + 1, n):
            out[a, b] = out[b, a] = float(distance(items[a], items[b]) or 0)
    return out


def rankings(cat: Catalogue) -> dict[str, Distances]:
    """Distance matrices, smaller is nearer, ties broken at random: cosine, pHash, joint."""
    assert cat.vectors is not None
    jitter = np.random.default_rng(0).random((len(cat), len(cat))) * 1e-3
    return {
        f"{PHOTO_MODEL} cosine": 1.0 - cat.vectors @ cat.vectors.T.astype(np.float64),
        "pHash (views)": hash_matrix(cat, phash_distance) + jitter,
        "joint 4-hash distance": hash_matrix(cat, joint_distance) + jitter,
    }


def retrieval_table(ranks: dict[str, Distances], sources: list[str]) -> None:
    """Recall@k (a relevant item in the top k) and mAP, every file as the query."""
    same = np.array(sources)[:, None] == np.array(sources)[None, :]
    print("\n### More like this: every file queries the others (relevant: the same photograph's 21 others)\n")
    print("| ranking | " + " | ".join(f"recall@{k}" for k in KS) + " | mAP |\n|" + "---|" * (len(KS) + 2))
    for name, dist in ranks.items():
        hits = {k: 0 for k in KS}
        precisions = []
        for q in range(len(sources)):
            order = [i for i in np.argsort(dist[q], kind="stable") if i != q]
            relevant = same[q, order]
            for k in KS:
                hits[k] += bool(relevant[:k].any())
            found = np.cumsum(relevant)
            precisions.append(float((found[relevant] / (np.nonzero(relevant)[0] + 1)).mean()))
        n = len(sources)
        print(
            f"| {name} | "
            + " | ".join(f"{hits[k] / n:.3f}" for k in KS)
            + f" | {statistics.mean(precisions):.3f} |"
        )


def per_edit_table(ranks: dict[str, Distances], names: list[str], sources: list[str]) -> None:
    """Per edit, the original as the query: how many files of *other* photographs rank ahead of the edited
    copy (the other copies of the same photograph are not counted against it)."""
    edits = [n.split("__")[1].rsplit(".", 1)[0] for n in names]
    originals = {s: i for i, (e, s) in enumerate(zip(edits, sources, strict=True)) if e == "orig"}
    print("\n### Per edit: the original queries; files of other photographs ranked ahead of its edited copy "
          "(share of the 30 photographs with none; median count)\n")  # fmt: skip
    print("| edit | " + " | ".join(f"{name}: none ahead | median ahead" for name in ranks) + " |")
    print("|---|" + "---|---|" * len(ranks))
    source_of = np.array(sources)
    for edit in EDITS:
        if edit == "orig":
            continue
        cells = []
        for dist in ranks.values():
            ahead = []
            for i, source in enumerate(sources):
                if edits[i] != edit:
                    continue
                q = originals[source]
                ahead.append(int(((dist[q] < dist[q, i]) & (source_of != source)).sum()))
            none = sum(a == 0 for a in ahead) / len(ahead)
            cells.append(f"{none:.2f} | {statistics.median(ahead):g}")
        print(f"| {edit} | " + " | ".join(cells) + " |")


def per_edit_dedup_table(cat: Catalogue, names: list[str], sources: list[str]) -> None:
    """Per edit: the share of the 30 (original, edited copy) pairs each dedup rule pairs, and which other
    photographs rank ahead of an edited copy in the photo model's ranking (the intruders named)."""
    rules: list[tuple[str, DedupMethod, int | None, float | None]] = [
        (f"semantic {PHOTO_MODEL} 0.9", "semantic", None, 0.9),
        ("pHash 14", "phash", 14, None),
        (f"combined (default) with {PHOTO_MODEL}", "combined", None, None),
    ]
    edits = [n.split("__")[1].rsplit(".", 1)[0] for n in names]
    found = {}
    for label, method, bits, cosine in rules:
        result = find_duplicates(cat, method, hash_threshold=bits, similarity_threshold=cosine)
        found[label] = {(p.a, p.b) for p in result.pairs} | {(p.b, p.a) for p in result.pairs}
    originals = {s: i for i, (e, s) in enumerate(zip(edits, sources, strict=True)) if e == "orig"}
    print("\n### Per edit: share of the 30 (original, edited copy) pairs each rule pairs\n")
    print("| edit | " + " | ".join(label for label, *_ in rules) + " |\n|---|" + "---|" * len(rules))
    for edit in EDITS:
        if edit == "orig":
            continue
        at = [(originals[s], i) for i, s in enumerate(sources) if edits[i] == edit]
        print(
            f"| {edit} | "
            + " | ".join(f"{sum(x in found[label] for x in at) / len(at):.2f}" for label, *_ in rules)
            + " |"
        )


def main() -> None:
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    model = load_model(PHOTO_MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        photos, shapes = Path(tmp) / "photographs", Path(tmp) / "shapes"
        photos.mkdir()
        shapes.mkdir()
        files = write_photo_set(photos)
        names, sources = [p.name for p, _ in files], [s for _, s in files]
        cat = make_catalogue([p for p, _ in files], model)
        assert list(cat.hashes) == list(STORED_HASHES)
        dedup_table(f"photographs, {PHOTO_MODEL}", cat, Truth(dict(zip(names, sources, strict=True))), False)
        shape_files = write_shape_sets(shapes)
        shape_cat = make_catalogue([p for p, _ in shape_files], model)
        shape_truth = Truth({p.name: s for p, s in shape_files})
        dedup_table(f"generated shapes, {PHOTO_MODEL}", shape_cat, shape_truth, True)
        ranks = rankings(cat)
        retrieval_table(ranks, sources)
        per_edit_table(ranks, names, sources)
        per_edit_dedup_table(cat, names, sources)
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
