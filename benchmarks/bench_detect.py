"""Detection and region-search benchmark on generated scenes, with the bundled tiny model.

    python benchmarks/bench_detect.py --scenes 100 --empty 50 --absent 50 --queries 100

- mAP@0.5 and recall@0.5 of the default detector (CLIP region scoring) over scenes of 2-5 shapes, asking
  for all 48 shape+colour classes; latency per scene.
- Empty images: plain generated backgrounds (no shape), and scenes asked only for classes they lack; the
  share that yields no box at all.
- Region search: a shape cropped from a scene (its true box) queried over a collection of single-shape
  pictures; the share of queries whose first hit has the same shape and colour.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import supervision as sv
from supervision.metrics import MeanAveragePrecision

from pixembed.runtime.detection import ClassQuery, ClipRegionDetector
from pixembed.runtime.loading import load_model
from pixembed.runtime.model import ClipModel
from pixembed.synthetic.scenes import render_scene
from pixembed.synthetic.shapes import CLASSES, caption, sample_dataset

QUERIES = [ClassQuery(f"{colour} {shape}", (caption(shape, colour),)) for shape, colour in CLASSES]
INDEX = {query.name: i for i, query in enumerate(QUERIES)}


def detections(
    boxes: list[tuple[float, ...]], classes: list[int], scores: list[float] | None
) -> sv.Detections:
    """Boxes as supervision Detections (the library's mAP wants them)."""
    return sv.Detections(
        xyxy=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        class_id=np.asarray(classes, dtype=int),
        confidence=None if scores is None else np.asarray(scores, dtype=np.float32),
    )


def bench_scenes(detector: ClipRegionDetector, count: int, threshold: float, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    metric = MeanAveragePrecision()
    latencies, hits, total = [], 0, 0
    for _ in range(count):
        scene = render_scene(rng)
        start = time.perf_counter()
        found = detector.detect(scene.image, QUERIES, threshold=threshold, top_k=50)
        latencies.append(time.perf_counter() - start)
        truth = [(o.box, INDEX[f"{o.colour} {o.shape}"]) for o in scene.objects]
        metric.update(
            detections([d.box for d in found], [d.class_index for d in found], [d.score for d in found]),
            detections([b for b, _ in truth], [c for _, c in truth], None),
        )
        for box, label in truth:
            total += 1
            hits += any(d.class_index == label and iou(d.box, box) >= 0.5 for d in found)
    return {
        "map50": float(metric.compute().map50),
        "recall50": hits / max(total, 1),
        "latency_ms_p50": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "latency_ms_p90": 1000 * float(np.percentile(latencies, 90)) if latencies else float("nan"),
    }


def bench_empty(
    detector: ClipRegionDetector, empty: int, absent: int, threshold: float, seed: int
) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    quiet_empty = sum(
        not detector.detect(render_scene(rng, count=0).image, QUERIES, threshold=threshold, top_k=50)
        for _ in range(empty)
    )
    quiet_absent = 0
    for _ in range(absent):
        scene = render_scene(rng)
        present = {f"{o.colour} {o.shape}" for o in scene.objects}
        wanted = [q for q in QUERIES if q.name not in present]
        asked = [wanted[int(i)] for i in rng.choice(len(wanted), size=3, replace=False)]
        quiet_absent += not detector.detect(scene.image, asked, threshold=threshold, top_k=50)
    return {"no_box_empty": quiet_empty / max(empty, 1), "no_box_absent": quiet_absent / max(absent, 1)}


def bench_region_search(model: ClipModel, queries: int, seed: int) -> dict[str, float]:
    catalogue = sample_dataset(len(CLASSES) * 3, seed=seed, size=128)
    vectors = model.embed_images([s.image for s in catalogue])
    rng = np.random.default_rng(seed + 1)
    right = 0
    done = 0
    while done < queries:
        scene = render_scene(rng)
        for obj in scene.objects[: queries - done]:
            crop = scene.image.crop(obj.box)
            best = int(np.argmax(vectors @ model.embed_images([crop])[0]))
            right += (catalogue[best].shape, catalogue[best].colour) == (obj.shape, obj.colour)
            done += 1
    return {"region_search_top1": right / max(done, 1)}


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--empty", type=int, default=50)
    parser.add_argument("--absent", type=int, default=50)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threshold", type=float, default=None, help="default: the model's calibrated one")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--windows", action="store_true", help="add sliding-window proposals")
    parser.add_argument("--window-weight", type=float, default=0.7)
    parser.add_argument("--cosine-floor", type=float, default=None, help="override the calibrated floor")
    parser.add_argument("--no-verify", action="store_true", help="skip the second, context-free crop check")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    args = parser.parse_args()
    model = load_model("pixembed-tiny", threads=args.threads)
    detector = ClipRegionDetector(
        model, windows=args.windows, window_weight=args.window_weight, verify=not args.no_verify
    )
    if args.cosine_floor is not None:
        detector.calibration = dataclasses.replace(detector.calibration, cosine_floor=args.cosine_floor)
    threshold = detector.default_threshold if args.threshold is None else args.threshold
    print(f"model {model.info.name}, detector {detector.name}, threshold {threshold}, {vars(args)}")
    results = {
        **bench_scenes(detector, args.scenes, threshold, args.seed),
        **bench_empty(detector, args.empty, args.absent, threshold, args.seed + 100),
        **bench_region_search(model, args.queries, args.seed + 200),
    }
    for key, value in results.items():
        print(f"{key:24} {value:.3f}")


if __name__ == "__main__":
    main()
