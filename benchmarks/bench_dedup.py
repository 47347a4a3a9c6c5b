"""Duplicate detection: quality on real photographs and their edits, against imagededup; speed at 100k.

Quality: every photograph that scikit-image and scikit-learn ship (no download), each with 11 edits
(JPEG at quality 90/50/20, resize to 50%, crop 5% and 10%, rotate 5 degrees, colour jitter, horizontal
flip, overlaid text, a border). A pair is a true duplicate when both come from the same photograph;
every cross-photograph pair is a negative. Precision, recall and F1 over pairs, per method and threshold.
imagededup runs on the same files in the same process, at its default thresholds.

Scale: synthetic clustered unit vectors with planted near-duplicates (see ``scale``): all semantic
duplicate groups of 100,000 vectors, and the single-image check through the store's search.

    python benchmarks/bench_dedup.py --scale 100000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from pixembed.imaging import decode_image
from pixembed.runtime.loading import load_model
from pixembed.services.catalogue import catalogue_from_images
from pixembed.services.dedup import Catalogue, find_duplicates
from pixembed.services.hashing import HASH_METHODS
from pixembed.store import Record
from pixembed.store.embedded import EmbeddedStore

PHOTOS = [
    "astronaut", "coffee", "chelsea", "rocket", "camera", "horse", "coins", "moon", "page", "text", "clock",
    "immunohistochemistry", "hubble_deep_field", "retina", "colorwheel", "grass", "gravel", "brick", "cell",
    "logo",
]  # fmt: skip


def photographs() -> dict[str, Image.Image]:
    """The packaged photographs, RGB, at most 512 px on the long side."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    arrays = {name: getattr(skimage.data, name)() for name in PHOTOS}
    samples = load_sample_images()
    arrays.update({Path(f).stem: img for f, img in zip(samples.filenames, samples.images, strict=True)})
    photos = {}
    for name, raw in arrays.items():
        pixels = np.asarray(raw)
        if pixels.dtype == bool:
            pixels = pixels.astype(np.uint8) * 255
        image = Image.fromarray(pixels.astype(np.uint8)).convert("RGB")
        image.thumbnail((512, 512))
        photos[name] = image
    return photos


def edits(image: Image.Image) -> dict[str, tuple[Image.Image, str, int]]:
    """The original and 11 edits: name -> (image, format to save, JPEG quality)."""
    w, h = image.size
    texted = image.copy()
    ImageDraw.Draw(texted).text((w // 10, h // 2), "SALE 50% OFF www.example.com", fill=(255, 255, 0))
    return {
        "orig": (image, "PNG", 0),
        "q90": (image, "JPEG", 90),
        "q50": (image, "JPEG", 50),
        "q20": (image, "JPEG", 20),
        "half": (image.resize((w // 2, h // 2), Image.Resampling.LANCZOS), "PNG", 0),
        "crop5": (image.crop((int(w * 0.05), int(h * 0.05), w, h)), "PNG", 0),
        "crop10": (image.crop((int(w * 0.05), int(h * 0.05), int(w * 0.95), int(h * 0.95))), "PNG", 0),
        "rot5": (image.rotate(5, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0)), "PNG", 0),
        "jitter": (ImageEnhance.Color(ImageEnhance.Brightness(image).enhance(1.2)).enhance(1.3), "PNG", 0),
        "flip": (ImageOps.mirror(image), "PNG", 0),
        "text": (texted, "PNG", 0),
        "border": (ImageOps.expand(image, border=max(w, h) // 20, fill=(255, 255, 255)), "PNG", 0),
    }


def write_dataset(folder: Path) -> list[tuple[Path, str]]:
    """Every edit of every photograph as a file; returns (path, source photograph)."""
    files = []
    for name, photo in photographs().items():
        for edit, (image, fmt, quality) in edits(photo).items():
            path = folder / f"{name}__{edit}.{'jpg' if fmt == 'JPEG' else 'png'}"
            image.save(path, fmt, **({"quality": quality} if quality else {}))
            files.append((path, name))
    return files


def score(pairs: set[tuple[str, str]], source: dict[str, str]) -> tuple[float, float, float]:
    """Precision, recall, F1 of predicted pairs of file names."""
    names = sorted(source)
    truth = {(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if source[a] == source[b]}
    hits = len(pairs & truth)
    precision = hits / len(pairs) if pairs else 1.0
    recall = hits / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


def pixembed_catalogue(files: list[Path], model: Any) -> tuple[Catalogue, float, float]:
    """Decode and hash (all four hashes) and embed; returns seconds for hashing and for embedding."""
    start = time.perf_counter()
    images = [decode_image(p.read_bytes(), max_pixels=10**8) for p in files]
    names = [p.name for p in files]
    cat = catalogue_from_images(images, names, [p.stat().st_size for p in files], [0.0] * len(files),
                                hash_methods=HASH_METHODS)  # fmt: skip
    hashed = time.perf_counter() - start
    start = time.perf_counter()
    cat.vectors = catalogue_from_images(images, names, [None] * len(files), [None] * len(files),
                                        model=model).vectors  # fmt: skip
    return cat, hashed, time.perf_counter() - start


def quality() -> None:
    """The quality table and the comparison with imagededup."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_dataset(folder)
        source = {p.name: name for p, name in files}
        paths = [p for p, _ in files]
        print(f"{len(paths)} images from {len(set(source.values()))} photographs\n")
        model = load_model("pixembed-tiny")
        cat, hash_s, embed_s = pixembed_catalogue(paths, model)
        print(f"pixembed: decode + 4 hashes {hash_s:.2f} s; embed (pixembed-tiny) {embed_s:.2f} s\n")
        print("| method | threshold | precision | recall | F1 | search s |\n|---|---|---|---|---|---|")
        sweeps: dict[str, list[Any]] = {m: list(range(0, 21, 2)) for m in HASH_METHODS}
        sweeps["semantic"] = [0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99]
        best: dict[str, tuple[float, Any]] = {}
        for method, thresholds in sweeps.items():
            for t in thresholds:
                start = time.perf_counter()
                if method == "semantic":
                    result = find_duplicates(cat, "semantic", similarity_threshold=t)
                else:
                    result = find_duplicates(cat, method, hash_threshold=t)  # type: ignore[arg-type]
                took = time.perf_counter() - start
                pairs = {tuple(sorted((cat.names[p.a], cat.names[p.b]))) for p in result.pairs}
                p, r, f = score(pairs, source)  # type: ignore[arg-type]
                print(f"| {method} | {t} | {p:.3f} | {r:.3f} | {f:.3f} | {took:.3f} |")
                if f > best.get(method, (-1.0, None))[0]:
                    best[method] = (f, t)
        for t_hash, t_sem in [(10, 0.9), (10, 0.95), (12, 0.97)]:
            result = find_duplicates(cat, "combined", hash_threshold=t_hash, similarity_threshold=t_sem)
            pairs = {tuple(sorted((cat.names[p.a], cat.names[p.b]))) for p in result.pairs}
            p, r, f = score(pairs, source)  # type: ignore[arg-type]
            print(f"| combined (pHash or cosine) | {t_hash} / {t_sem} | {p:.3f} | {r:.3f} | {f:.3f} | |")
        print("\nbest F1 per method:", {m: (round(f, 3), t) for m, (f, t) in best.items()})
        compare_imagededup(folder, paths, source)


def compare_imagededup(folder: Path, paths: list[Path], source: dict[str, str]) -> None:
    """imagededup's hashers at their default max_distance_threshold (10), vs pixembed at the same 10."""
    from imagededup.methods import AHash, DHash, PHash, WHash

    print("\n| library | method | threshold | precision | recall | F1 | wall s (encode + search) |")
    print("|---|---|---|---|---|---|---|")
    for cls, method in [(PHash, "phash"), (DHash, "dhash"), (AHash, "ahash"), (WHash, "whash")]:
        start = time.perf_counter()
        hasher = cls(verbose=False)
        encodings = hasher.encode_images(image_dir=str(folder))
        found = hasher.find_duplicates(encoding_map=encodings)
        took = time.perf_counter() - start
        pairs = {tuple(sorted((a, b))) for a, dups in found.items() for b in dups}
        p, r, f = score(pairs, source)  # type: ignore[arg-type]
        print(f"| imagededup 0.3 | {method} | 10 | {p:.3f} | {r:.3f} | {f:.3f} | {took:.2f} |")
        start = time.perf_counter()
        images = [decode_image(path.read_bytes(), max_pixels=10**8) for path in paths]
        cat = catalogue_from_images(images, [path.name for path in paths], [None] * len(paths),
                                    [None] * len(paths), hash_methods=[method])  # fmt: skip
        result = find_duplicates(cat, method, hash_threshold=10)  # type: ignore[arg-type]
        took = time.perf_counter() - start
        pairs = {tuple(sorted((cat.names[x.a], cat.names[x.b]))) for x in result.pairs}
        p, r, f = score(pairs, source)  # type: ignore[arg-type]
        print(f"| pixembed | {method} | 10 | {p:.3f} | {r:.3f} | {f:.3f} | {took:.2f} |")


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
