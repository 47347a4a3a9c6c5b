"""``pixembed detect``: JSON detections and the annotated PNG."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from pixembed.cli import app
from tests.detection_helpers import iou, three_shape_scene

runner = CliRunner()


def test_detect_prints_json_and_writes_the_annotated_png(tmp_path: Path) -> None:
    scene = three_shape_scene()
    picture, out = tmp_path / "scene.png", tmp_path / "annotated.png"
    scene.image.save(picture)
    args = ["detect", str(picture), "-m", "pixembed-tiny", "-c", "red circle", "-c", "blue square"]
    result = runner.invoke(app, [*args, "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    circle = next(o for o in scene.objects if o.shape == "circle")
    assert any(d["label"] == "red circle" and iou(d["box"], circle.box) >= 0.5 for d in body["detections"])
    assert {d["label"] for d in body["detections"]} <= {"red circle", "blue square"}
    with Image.open(out) as drawn:
        assert drawn.format == "PNG" and drawn.size == scene.image.size


def test_detect_refuses_bad_arguments(tmp_path: Path) -> None:
    picture = tmp_path / "scene.png"
    three_shape_scene().image.save(picture)
    result = runner.invoke(app, ["detect", str(picture), "-m", "pixembed-tiny", "-c", "x", "--top-k", "0"])
    assert result.exit_code != 0
    assert "top_k must be between 1 and 50" in str(result.exception)
