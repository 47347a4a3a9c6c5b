"""POST /v1/detect and POST /v1/embed/regions through the real app with the tiny model."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from pixembed.cli import app as cli_app
from pixembed.errors import WeightsUnavailable
from pixembed.synthetic.shapes import caption
from tests.detection_helpers import KINDS, iou, three_shape_scene, tiny_owlv2
from tests.factories import MakeClient
from tests.helpers import encode

CLASSES = [f"{colour} {shape}" for shape, colour in KINDS] + ["green heart"]
SCENE = three_shape_scene()
SCENE_B64 = base64.b64encode(encode(SCENE.image)).decode()


def assert_hits(detections: list[dict[str, Any]], boxes: list[tuple[str, tuple[int, int, int, int]]]) -> None:
    for label, box in boxes:
        assert any(d["label"] == label and iou(d["box"], box) >= 0.5 for d in detections), (label, detections)


def test_detect_finds_each_shape_with_its_label_and_geometry(client: TestClient) -> None:
    response = client.post("/v1/detect", json={"image": SCENE_B64, "classes": CLASSES})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"], body["detector"], body["image"]) == (
        320,
        240,
        "clip-regions",
        None,
    )
    assert_hits(body["detections"], [(f"{o.colour} {o.shape}", o.box) for o in SCENE.objects])
    for d in body["detections"]:
        assert d["label"] != "green heart"
        assert d["class_id"] == CLASSES.index(d["label"])
        x1, y1, x2, y2 = d["box"]
        assert d["area_ratio"] == pytest.approx((x2 - x1) * (y2 - y1) / (320 * 240), abs=1e-5)
        centre = np.hypot((x1 + x2) / 2 - 160, (y1 + y2) / 2 - 120) / np.hypot(160, 120)
        assert d["center_distance_ratio"] == pytest.approx(centre, abs=1e-5)


def test_boxes_are_in_pixels_of_the_exif_rotated_image(client: TestClient) -> None:
    # Stored turned a quarter left, with EXIF orientation 6 ("rotate right to view"): viewers show SCENE.
    stored = SCENE.image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    response = client.post("/v1/detect", json={"image": base64.b64encode(jpeg).decode(), "classes": CLASSES})
    body = response.json()
    assert (body["width"], body["height"]) == (320, 240)
    assert_hits(body["detections"], [(f"{o.colour} {o.shape}", o.box) for o in SCENE.objects])


def test_multipart_top_k_and_the_annotated_png(client: TestClient) -> None:
    files = {"image": ("scene.png", encode(SCENE.image), "image/png")}
    data = {"classes": CLASSES, "top_k": "1", "return_image": "true"}
    body = client.post("/v1/detect", files=files, data=data).json()
    assert len(body["detections"]) == 1
    annotated = Image.open(io.BytesIO(base64.b64decode(body["image"])))
    assert annotated.format == "PNG" and annotated.size == SCENE.image.size
    x1, y1, x2, y2 = body["detections"][0]["box"]
    changed = np.any(np.asarray(annotated.convert("RGB")) != np.asarray(SCENE.image), axis=2)
    assert changed[y1:y2, x1].mean() > 0.9  # the box's left edge is drawn
    assert not changed[(y1 + y2) // 2 : y2 - 4, x1 + 4 : x2 - 4].any()  # below its label, the inside is not


def test_an_image_without_the_classes_gives_no_detections(client: TestClient) -> None:
    body = client.post(
        "/v1/detect", json={"image": SCENE_B64, "classes": ["green heart", "pink cross"]}
    ).json()
    assert body["detections"] == []


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"top_k": 0}, "top_k must be between 1 and 50, got 0"),
        ({"top_k": 51}, "top_k must be between 1 and 50, got 51"),
        ({"classes": []}, "no classes given"),
        ({"classes": "handbags"}, "unknown label set 'handbags'; known label sets: fashion"),
        ({"classes": ["red circle", " "]}, "class 1 is an empty text"),
        ({"threshold": 1.5}, "threshold must be between 0 and 1"),
        ({"image": "bm90IGFuIGltYWdl"}, "not"),
    ],
)
def test_bad_detect_requests_are_400s(client: TestClient, extra: dict[str, Any], needle: str) -> None:
    response = client.post("/v1/detect", json={"image": SCENE_B64, "classes": CLASSES, **extra})
    assert response.status_code in (400, 415), response.text
    assert needle in response.json()["message"]


def test_regions_with_boxes_give_unit_vectors_tags_and_relevance(client: TestClient) -> None:
    boxes = [list(o.box) for o in SCENE.objects]
    captions = [caption(s, c) for s, c in KINDS]
    body = {"image": SCENE_B64, "boxes": boxes, "labels": captions, "texts": captions}
    response = client.post("/v1/embed/regions", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["model"] == "pixembed-tiny"
    for region, obj in zip(result["regions"], SCENE.objects, strict=True):
        assert region["box"] == list(obj.box)
        assert len(region["vector"]) == result["dimensions"]
        assert np.linalg.norm(region["vector"]) == pytest.approx(1.0, abs=1e-4)
        assert region["tags"][0]["label"] == obj.caption
        best = max(region["relevance"], key=lambda r: r["score"])
        assert best["text"] == obj.caption


def test_regions_without_boxes_are_detected_first(client: TestClient) -> None:
    captions = [caption(s, c) for s, c in KINDS]
    result = client.post("/v1/embed/regions", json={"image": SCENE_B64, "labels": captions}).json()
    found = [{"label": r["tags"][0]["label"], "box": r["box"]} for r in result["regions"]]
    assert_hits(found, [(o.caption, o.box) for o in SCENE.objects])


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"boxes": [[0, 0, 400, 10]]}, "lies outside the 320x240 image"),
        ({"boxes": [[10, 10, 5, 20]]}, "is empty"),
        ({"boxes": [[0, 0, 10]]}, "boxes.0"),
        ({"label_set": "cars"}, "unknown label set"),
        ({"labels": ["a"], "label_set": "fashion"}, "not both"),
    ],
)
def test_bad_region_requests_are_400s(client: TestClient, extra: dict[str, Any], needle: str) -> None:
    response = client.post("/v1/embed/regions", json={"image": SCENE_B64, **extra})
    assert response.status_code == 400, response.text
    assert needle in response.json()["message"]


def test_the_app_serves_another_detector_through_the_same_route(make_client: MakeClient) -> None:
    owl_client = make_client(detector=tiny_owlv2())
    body = owl_client.post(
        "/v1/detect", json={"image": SCENE_B64, "classes": CLASSES, "top_k": 3, "threshold": 0.0}
    ).json()
    assert body["detector"] == "owlv2"
    assert 1 <= len(body["detections"]) <= 3
    assert all(d["label"] in CLASSES and 0 <= d["box"][0] < d["box"][2] <= 320 for d in body["detections"])


def test_serve_with_owlv2_and_no_weights_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(cli_app, ["serve", "--model", "pixembed-tiny", "--detector", "owlv2"])
    assert isinstance(result.exception, WeightsUnavailable)
    assert "--detector clip-regions" in result.exception.message
