"""Duplicate detection: quality of pairs *and groups* on real photographs and generated shapes, against
imagededup in the same run; speed at 100k.

Quality (``benchmarks/dedup_sets.py``): every photograph the installed packages ship, each with 21 edits
(recompression, resizes, crops, borders, rotations of 1-10 degrees with dark or mirrored corners, text,
colour changes, greyscale, a flip), and generated shapes (the issue's flat shapes with copies, and
``pixembed.synthetic`` pictures with copies). Two files are duplicates when they come from the same
picture. Scores, for each method and threshold:

- pair level: precision, recall and F1 of the pairs the method finds;
- group level: of the pairs the *groups* imply (every two members of a group), what a move acts on;
- safe drops: how many copies the run would drop (move), and the share of them that are true copies of
  their keeper; borderline: copies reported but kept.

Scikit-image's two motorcycle photographs are a stereo pair (one scene, one instant, two lenses): they
are two different photographs (a hard negative: a user would not want one moved away as a copy of the
other), and every pair across them counts as wrong. imagededup runs on the same files in the same
process, at its defaults, its per-file duplicate lists scored as pairs.

Held out: the default's thresholds were chosen on half the photographs (``selection_half``: the stereo
pair, the one hard negative, and half the others drawn with a fixed seed) and are reported on the other
half as well as on all; each ``combined`` row of the sweep is printed for both halves.

Scale: synthetic clustered unit vectors with planted near-duplicates (see ``scale``): all semantic
duplicate groups of 100,000 vectors, and the single-image check through the store's search.

    python benchmarks/bench_dedup.py --scale 0
    python benchmarks/bench_dedup.py --skip-quality --scale 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from dedup_sets import write_photo_set, write_shape_sets  # beside this script, on sys.path when it runs

from pixembed.imaging import decode_image
from pixembed.runtime.loading import load_model
from pixembed.services.catalogue import catalogue_from_images
from pixembed.services.dedup import (
    COMBINED_HASH_THRESHOLD,
    COMBINED_SIMILARITY_THRESHOLD,
    DEFAULT_HASH_THRESHOLDS,
    DEFAULT_METHOD,
    DEFAULT_SIMILARITY_THRESHOLD,
    Catalogue,
    DedupMethod,
    DedupResult,
    find_duplicates,
)
from pixembed.services.hashing import HASH_METHODS, STORED_HASHES
from pixembed.store import Record
from pixembed.store.embedded import EmbeddedStore

Pairs = set[tuple[str, str]]
PHOTO_MODEL = "efficientnet-lite0"


class Truth:
    """The positive pairs of a labelled set: two files from the same source picture."""

    def __init__(self, source: dict[str, str]) -> None:
        names = sorted(source)
        self.source = source
        self.positive = {(a, b) for a, b in combinations(names, 2) if source[a] == source[b]}

    def score(self, pairs: Pairs) -> tuple[float, float, float]:
        """Precision, recall, F1 of ``pairs`` (sorted name tuples)."""
        hits = len(pairs & self.positive)
        precision = hits / len(pairs) if pairs else 1.0
        recall = hits / len(self.positive)
        return precision, recall, (2 * precision * recall / (precision + recall) if hits else 0.0)


def found_pairs(cat: Catalogue, result: DedupResult) -> tuple[Pairs, Pairs]:
    """The pairs a run found, and the pairs its groups imply, as sorted name tuples."""
    names = cat.names

    def named(a: int, b: int) -> tuple[str, str]:
        first, second = sorted((str(names[a]), str(names[b])))
        return first, second

    pairs = {named(p.a, p.b) for p in result.pairs}
    grouped = {named(a, b) for g in result.groups for a, b in combinations(g.members, 2)}
    return pairs, grouped


def safe_drops(cat: Catalogue, result: DedupResult, truth: Truth) -> tuple[int, int, int]:
    """Copies a run would drop, how many of them are not copies of their keeper, and the borderline count."""
    wrong = total = 0
    for group in result.groups:
        for index in group.drop:
            total += 1
            wrong += truth.source[str(cat.names[index])] != truth.source[str(cat.names[group.keep])]
    return total, wrong, len(result.borderline)


def make_catalogue(paths: list[Path], model: Any) -> Catalogue:
    """Decode, take all four hashes, embed with ``model``."""
    images = [decode_image(p.read_bytes(), max_pixels=10**8) for p in paths]
    return catalogue_from_images(
        images, [p.name for p in paths], [p.stat().st_size for p in paths], [0.0] * len(paths),
        hash_methods=STORED_HASHES, model=model,
    )  # fmt: skip


Row = tuple[DedupMethod, int | None, float | None, bool]
COMBINED_BITS_SWEPT = range(28, 43)
COMBINED_COSINES_SWEPT = (0.7, 0.75, 0.8, 0.85)


def sweep() -> list[Row]:
    """(method, hash threshold, cosine threshold, is the default) for every row."""
    rows: list[Row] = []
    for method in HASH_METHODS:
        for bits in sorted({*range(0, 21, 2), DEFAULT_HASH_THRESHOLDS[method]}):
            rows.append((method, bits, None, bits == DEFAULT_HASH_THRESHOLDS[method]))
    for cosine in sorted({0.8, 0.85, 0.9, 0.93, 0.97, DEFAULT_SIMILARITY_THRESHOLD}):
        rows.append(("semantic", None, cosine, cosine == DEFAULT_SIMILARITY_THRESHOLD))
    defaults = (COMBINED_HASH_THRESHOLD, COMBINED_SIMILARITY_THRESHOLD)
    for bits in sorted({*COMBINED_BITS_SWEPT, COMBINED_HASH_THRESHOLD}):
        for cosine in sorted({*COMBINED_COSINES_SWEPT, COMBINED_SIMILARITY_THRESHOLD}):
            rows.append(("combined", bits, cosine, (bits, cosine) == defaults))
    return rows


def row_name(method: DedupMethod, default: bool) -> str:
    if default:
        return f"**{method} (default)**" if method == DEFAULT_METHOD else f"{method} (default)"
    return method


def quality_table(title: str, cat: Catalogue, truth: Truth) -> None:
    """One set's table: pair level, group level, safe drops, per method and threshold."""
    print(f"\n### {title}: {len(cat)} files, {len(truth.positive)} duplicate pairs\n")
    print("| method | hash bits | cosine | pair P | pair R | pair F1 | group P | group R "
          "| group F1 | safe drops | of which not copies | borderline |")  # fmt: skip
    print("|" + "---|" * 12)
    for method, bits, cosine, default in sweep():
        result = find_duplicates(cat, method, hash_threshold=bits, similarity_threshold=cosine)
        pairs, grouped = found_pairs(cat, result)
        p, r, f = truth.score(pairs)
        gp, gr, gf = truth.score(grouped)
        drops, wrong, borderline = safe_drops(cat, result, truth)
        print(f"| {row_name(method, default)} | {'' if bits is None else bits} "
              f"| {'' if cosine is None else cosine} | {p:.3f} | {r:.3f} | {f:.3f} "
              f"| {gp:.3f} | {gr:.3f} | {gf:.3f} | {drops} | {wrong} | {borderline} |")  # fmt: skip


def selection_half(sources: set[str]) -> set[str]:
    """The photographs the default's thresholds were chosen on: the stereo pair (the one hard negative:
    a threshold is bounded only by negatives it is chosen on) and half of the others, drawn with seed 0."""
    stereo = {s for s in sources if s.startswith("motorcycle_")}
    others = sorted(sources - stereo)
    drawn = np.random.default_rng(0).permutation(len(others))[: len(others) // 2]
    return stereo | {others[i] for i in drawn}


def subset(cat: Catalogue, keep: list[int]) -> Catalogue:
    """The catalogue of the items ``keep`` (as if only those files were given)."""
    return Catalogue(
        [cat.ids[i] for i in keep], [cat.names[i] for i in keep], [cat.widths[i] for i in keep],
        [cat.heights[i] for i in keep], [cat.sizes[i] for i in keep], [cat.ages[i] for i in keep],
        None if cat.vectors is None else cat.vectors[keep],
        {key: [values[i] for i in keep] for key, values in cat.hashes.items()},
    )  # fmt: skip


def split_scores(cat: Catalogue, truth: Truth, bits: int, cosine: float) -> list[float]:
    """Group P, R, F1 of one ``combined`` row on the selection half, the held-out half and all."""
    chosen = selection_half(set(truth.source.values()))
    cells: list[float] = []
    for inside in (True, False, None):
        keep = [
            i for i, n in enumerate(cat.names) if inside is None or (truth.source[str(n)] in chosen) == inside
        ]
        part = subset(cat, keep)
        part_truth = Truth({str(n): truth.source[str(n)] for n in part.names})
        result = find_duplicates(part, "combined", hash_threshold=bits, similarity_threshold=cosine)
        cells.extend(part_truth.score(found_pairs(part, result)[1]))
    return cells


def held_out_tables(
    photos: dict[str, Catalogue], truth: Truth, shapes: Catalogue, shape_truth: Truth
) -> None:
    """Every ``combined`` row on the selection half, the held-out half and all photographs, with each
    model's vectors; then the row the selection rule picks: the largest smaller-of-the-models F1 on the
    selection half among rows with group precision >= 0.98 there for every model and on the shapes."""
    chosen = selection_half(set(truth.source.values()))
    print(f"\nSelection half ({len(chosen)} photographs: {', '.join(sorted(chosen))}); held-out half: the "
          "others. Group precision / recall / F1 of each combined row, per model:\n")  # fmt: skip
    header = ["joint bits", "cosine"]
    for model in photos:
        header += [f"{model} {part} {x}" for part in ("selection", "held-out", "all") for x in "PRF"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    candidates = []
    for method, bits, cosine, default in sweep():
        if method != "combined" or bits is None or cosine is None:
            continue
        scores = {model: split_scores(cat, truth, bits, cosine) for model, cat in photos.items()}
        mark = "**" if default else ""
        cells = " | ".join(f"{x:.3f}" for model in photos for x in scores[model])
        print(f"| {mark}{bits}{mark} | {mark}{cosine}{mark} | {cells} |")
        shape_result = find_duplicates(shapes, method, hash_threshold=bits, similarity_threshold=cosine)
        shape_precision = shape_truth.score(found_pairs(shapes, shape_result)[1])[0]
        if shape_precision >= 0.98 and all(v[0] >= 0.98 for v in scores.values()):
            candidates.append((min(v[2] for v in scores.values()), bits, cosine))
    best = max(candidates) if candidates else None
    print(
        f"\nThe selection rule picks: {'none' if best is None else f'{best[1]} bits, cosine {best[2]}'} "
        f"(smaller selection-half F1 of the models {'' if best is None else f'{best[0]:.3f}'}); "
        f"the default is {COMBINED_HASH_THRESHOLD} bits, cosine {COMBINED_SIMILARITY_THRESHOLD}"
    )


def imagededup_table(title: str, folder: Path, truth: Truth) -> None:
    """imagededup's four hashers at their default threshold (10 bits), per-file lists scored as pairs."""
    import logging
    import warnings

    from imagededup.methods import AHash, DHash, PHash, WHash

    logging.disable(logging.INFO)  # imagededup logs every step at INFO on its own handlers

    print(f"\n{title}, imagededup 0.3 at its defaults (max_distance_threshold=10):\n")
    print("| method | pair P | pair R | pair F1 |\n|---|---|---|---|")
    for cls in (PHash, DHash, AHash, WHash):
        hasher = cls(verbose=False)
        encodings = hasher.encode_images(image_dir=str(folder))
        with warnings.catch_warnings():  # "num_enc_workers has no effect": the encodings are given
            warnings.simplefilter("ignore")
            found = hasher.find_duplicates(encoding_map=encodings)
        pairs: Pairs = {(min(a, b), max(a, b)) for a, dups in found.items() for b in dups}
        p, r, f = truth.score(pairs)
        print(f"| {cls.__name__} | {p:.3f} | {r:.3f} | {f:.3f} |")


def quality() -> None:
    """Both sets: pixembed's sweep, then imagededup on the same files; the held-out tables with both
    offline models' vectors (the bundled pixembed-tiny, the photo model efficientnet-lite0)."""
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    model = load_model("pixembed-tiny")
    built: dict[str, tuple[Catalogue, Truth, list[Path]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for title, write in (("Photographs", write_photo_set), ("Generated shapes", write_shape_sets)):
            folder = Path(tmp) / title.split()[-1].lower()
            folder.mkdir()
            files = write(folder)
            truth = Truth({p.name: source for p, source in files})
            cat = make_catalogue([p for p, _ in files], model)
            built[title] = (cat, truth, [p for p, _ in files])
            quality_table(f"{title} ({len({s for _, s in files})} pictures)", cat, truth)
            imagededup_table(title, folder, truth)
        cat, truth, paths = built["Photographs"]
        photo_model = load_model(PHOTO_MODEL)
        images = [decode_image(p.read_bytes(), max_pixels=10**8) for p in paths]
        photo_vectors = catalogue_from_images(
            images, cat.names, cat.sizes, cat.ages, model=photo_model
        ).vectors
        photos = {"pixembed-tiny": cat, PHOTO_MODEL: dataclasses.replace(cat, vectors=photo_vectors)}
        held_out_tables(photos, truth, *built["Generated shapes"][:2])
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def clustered_vectors(n: int, d: int = 512, seed: int = 0) -> tuple[np.ndarray[Any, Any], int]:
    """``n`` unit vectors around 1,000 centres; 10% are planted near-duplicates (cosine ~0.97) of others."""
    rng = np.random.default_rng(seed)

    def unit(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)

    planted = n // 10
    centres = unit(rng.standard_normal((1000, d)))
    base = unit(centres[rng.integers(0, 1000, n - planted)] + 0.05 * rng.standard_normal((n - planted, d)))
    copies = unit(base[rng.integers(0, n - planted, planted)] + 0.008 * rng.standard_normal((planted, d)))
    return np.vstack([base, copies]), planted


def scale(n: int, queries: int) -> None:
    """All semantic duplicate groups of ``n`` vectors; then the one-image check via the store's search."""
    vectors, planted = clustered_vectors(n)
    cat = Catalogue(
        [str(i) for i in range(n)], [None] * n, [None] * n, [None] * n, [None] * n, [None] * n, vectors
    )
    start = time.perf_counter()
    result = find_duplicates(cat, "semantic", similarity_threshold=0.9)
    took = time.perf_counter() - start
    # Pairs that touch a planted copy (a copy with its original, or two copies of one original).
    found_planted = sum(1 for p in result.pairs if p.b >= n - planted)
    print(f"\nsemantic groups, n={n}: {took:.1f} s, {len(result.pairs)} pairs, {len(result.groups)} groups, "
          f"pairs touching the {planted} planted copies {found_planted}")  # fmt: skip
    rng = np.random.default_rng(1)
    codes = [f"{v:016x}" for v in rng.integers(0, 2**63, n)]
    codes[n - planted :] = codes[:planted]
    cat.hashes = {"phash": list(codes)}
    start = time.perf_counter()
    result = find_duplicates(cat, "phash", hash_threshold=10)
    print(f"pHash groups (FAISS binary range search), n={n}: {time.perf_counter() - start:.1f} s, "
          f"{len(result.pairs)} pairs")  # fmt: skip
    store = EmbeddedStore(":memory:")
    store.create_collection("bench", "synthetic", vectors.shape[1])
    for begin in range(0, n, 5000):
        store.upsert("bench", [Record(str(i), vectors[i]) for i in range(begin, min(n, begin + 5000))])
    times = []
    for q in rng.integers(0, n, queries):
        start = time.perf_counter()
        matches = store.search("bench", vectors[q], 20)
        duplicates = [m for m in matches if m.score >= 0.9]
        times.append((time.perf_counter() - start) * 1000)
        assert duplicates, "a stored vector is a duplicate of itself"
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
    print(
        f"single-image check (store search top 20 + threshold), n={n}: p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms over {queries} queries (embedding not included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=100_000, help="vectors for the scale run (0 to skip)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    if not args.skip_quality:
        quality()
    if args.scale:
        scale(args.scale, args.queries)


if __name__ == "__main__":
    main()
