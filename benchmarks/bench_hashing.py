"""What the hashes stored with every item cost, beside the embedding they are stored with and beside
imagededup's hashing, in one run.

Since issue 17's joint distance, every item added to a collection (and every posted dedup image) is hashed
20 ways: pHash, dHash, aHash and wHash of the picture and of four views (border-trimmed, mirrored, centre,
centre mirrored), all from one 256 px greyscale copy. This times, per photograph (the photographs the
installed packages ship, at 512 px, as the dedup benchmark uses them), median of ``--repeats`` passes:

- pixembed: the 20 stored hashes; pHash alone (what one hash costs on the same copy);
- imagededup 0.3: its PHash and DHash ``encode_image`` on the same picture (the library a user would
  otherwise run);
- pixembed-tiny and the offline photo model (efficientnet-lite0): one image's embedding at batch 1 (what
  indexing spends per item anyway).

    PYTHONPATH=src python benchmarks/bench_hashing.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
from dedup_sets import photographs  # beside this script, on sys.path when it runs
from PIL import Image

from pixembed.runtime.loading import load_model
from pixembed.services.hashing import STORED_HASHES, image_hashes


def per_image_ms(work: Callable[[Image.Image], object], images: list[Image.Image], repeats: int) -> float:
    """Median over ``repeats`` passes of the mean milliseconds per image."""
    passes = []
    for _ in range(repeats):
        start = time.perf_counter()
        for image in images:
            work(image)
        passes.append((time.perf_counter() - start) * 1000 / len(images))
    return round(statistics.median(passes), 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from imagededup.methods import DHash, PHash

    images = list(photographs().values())
    phash, dhash = PHash(verbose=False), DHash(verbose=False)
    tiny = load_model("pixembed-tiny")
    results: dict[str, object] = {
        "load_average_start": os.getloadavg(),
        "photographs": len(images),
        "size": list(images[0].size),
        "pixembed, 20 stored hashes (ms/image)": per_image_ms(
            lambda im: image_hashes(im, STORED_HASHES), images, args.repeats
        ),
        "pixembed, pHash alone (ms/image)": per_image_ms(
            lambda im: image_hashes(im, ["phash"]), images, args.repeats
        ),
        "imagededup PHash.encode_image (ms/image)": per_image_ms(
            lambda im: phash.encode_image(image_array=np.asarray(im.convert("RGB"))), images, args.repeats
        ),
        "imagededup DHash.encode_image (ms/image)": per_image_ms(
            lambda im: dhash.encode_image(image_array=np.asarray(im.convert("RGB"))), images, args.repeats
        ),
        "pixembed-tiny embedding, batch 1 (ms/image)": per_image_ms(
            lambda im: tiny.embed_images([im]), images, args.repeats
        ),
    }
    photo = load_model("efficientnet-lite0")
    results["efficientnet-lite0 embedding, batch 1 (ms/image)"] = per_image_ms(
        lambda im: photo.embed_images([im]), images, args.repeats
    )
    results["load_average_end"] = os.getloadavg()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
