"""The CLIP region detector with the tiny model, and OWLv2's plumbing with a tiny random config."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from pixembed.errors import WeightsUnavailable
from pixembed.runtime.detection import ClassQuery, ClipRegionDetector
from pixembed.runtime.detection.clip_regions import suppress
from pixembed.runtime.detection.owlv2 import load_owlv2
from pixembed.runtime.model import ClipModel
from pixembed.synthetic.scenes import render_scene
from pixembed.synthetic.shapes import caption
from tests.detection_helpers import KINDS, iou, three_shape_scene, tiny_owlv2

QUERIES = [ClassQuery(f"{c} {s}", (caption(s, c),)) for s, c in [*KINDS, ("heart", "green")]]


def test_detections_hit_the_true_boxes_with_the_right_labels(tiny_model: ClipModel) -> None:
    scene = three_shape_scene()
    found = ClipRegionDetector(tiny_model).detect(scene.image, QUERIES, threshold=0.5, top_k=20)
    for obj in scene.objects:
        label = QUERIES.index(next(q for q in QUERIES if q.name == f"{obj.colour} {obj.shape}"))
        assert any(d.class_index == label and iou(d.box, obj.box) >= 0.5 for d in found), obj
    assert all(QUERIES[d.class_index].name != "green heart" for d in found)  # not in the picture
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_an_empty_background_gives_no_boxes(tiny_model: ClipModel) -> None:
    detector = ClipRegionDetector(tiny_model)
    for seed in range(3):
        background = render_scene(np.random.default_rng(seed), count=0).image
        assert detector.detect(background, QUERIES, threshold=detector.default_threshold, top_k=50) == []


@pytest.mark.parametrize("size", [(1, 1), (2, 1), (1, 3000), (3000, 2)])
def test_degenerate_images_give_boxes_inside_them_not_an_error(
    tiny_model: ClipModel, size: tuple[int, int]
) -> None:
    # Found by schemathesis: k-means over a 1x1 image asked for more clusters than pixels (a 500).
    detector = ClipRegionDetector(tiny_model)
    found = detector.detect(Image.new("RGB", size, "red"), QUERIES, threshold=0.0, top_k=5)
    for detection in found:
        x1, y1, x2, y2 = detection.box
        assert 0 <= x1 <= x2 <= size[0] and 0 <= y1 <= y2 <= size[1]


def test_suppression_keeps_the_best_of_overlapping_and_nested_boxes() -> None:
    boxes = np.array(
        [[10, 10, 50, 50], [12, 11, 51, 50], [20, 20, 30, 30], [0, 0, 100, 100], [60, 60, 90, 90]], np.float32
    )
    labels = np.array([0, 0, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5], np.float32)
    kept = suppress(boxes, labels, scores, top_k=10)
    assert [(d.box, d.class_index) for d in kept] == [((10, 10, 50, 50), 0), ((60, 60, 90, 90), 1)]
    assert len(suppress(boxes, labels, scores, top_k=1)) == 1


def test_owlv2_boxes_lie_in_the_original_image_and_respect_threshold_and_top_k() -> None:
    detector = tiny_owlv2()
    image = Image.new("RGB", (200, 100), (200, 30, 30))
    queries = [ClassQuery("bag", ("a photo of a bag", "bag")), ClassQuery("shoe", ("a photo of a shoe",))]
    found = detector.detect(image, queries, threshold=0.0, top_k=5)
    assert 1 <= len(found) <= 5
    for d in found:
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 <= x2 <= 200 and 0 <= y1 <= y2 <= 100
        assert d.class_index in (0, 1) and 0.0 <= d.score <= 1.0
    assert detector.detect(image, queries, threshold=1.01, top_k=5) == []


def test_owlv2_offline_without_weights_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable, match="hub is unreachable"):
        load_owlv2("google/owlv2-base-patch16-ensemble")
    assert time.monotonic() - start < 10
    with pytest.raises(WeightsUnavailable, match="not an OWLv2 folder"):
        load_owlv2("x", tmp_path)  # type: ignore[arg-type]
