"""``pixembed detect IMAGE --classes ...``: detections as a table or JSON, and an annotated PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pixembed.cli.app import (
    CliError,
    ModelOpt,
    PretrainedOpt,
    WeightsOpt,
    _read,
    app,
    err,
    load_cli_model,
    make_settings,
)
from pixembed.config import DEFAULT_MODEL
from pixembed.runtime.detection import ClipRegionDetector, Detector
from pixembed.services.detection import LABEL_SETS, detect, resolve_classes
from pixembed.services.inputs import ImageSource


@app.command("detect")
def detect_command(
    image: Annotated[Path, typer.Argument(help="the image to search")],
    classes: Annotated[
        list[str], typer.Option("--classes", "-c", help="a class to find (repeat), or a label set: fashion")
    ],
    model: ModelOpt = DEFAULT_MODEL,
    pretrained: PretrainedOpt = None,
    weights: WeightsOpt = None,
    detector: Annotated[
        str, typer.Option(help="clip-regions (default, no extra weights) or owlv2")
    ] = "clip-regions",
    top_k: Annotated[int, typer.Option("--top-k", help="at most this many detections (1-50)")] = 10,
    threshold: Annotated[float | None, typer.Option(help="minimum score 0-1; default: calibrated")] = None,
    out: Annotated[
        Path | None, typer.Option(help="write the image with boxes and labels drawn here (PNG)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Find objects of the given classes in an image: boxes in pixels, labels, scores."""
    if detector not in ("clip-regions", "owlv2"):
        raise CliError(f"unknown detector {detector!r}: use clip-regions or owlv2")
    settings = make_settings(model, pretrained, weights, detector=detector)
    source = ImageSource("bytes", _read(image), str(image))
    wanted = resolve_classes(
        classes[0] if len(classes) == 1 and classes[0].strip().lower() in LABEL_SETS else classes, settings
    )
    loaded = load_cli_model(settings)
    finder: Detector
    if settings.detector == "owlv2":
        from pixembed.api.app import load_detector_from_settings

        with err.status(f"loading {settings.detector_model} ..."):
            owl = load_detector_from_settings(settings)
        assert owl is not None
        finder = owl
    else:
        finder = ClipRegionDetector(loaded)
    result = anyio.run(
        lambda: detect(
            finder, source, wanted, settings, top_k=top_k, threshold=threshold, annotate_image=out is not None
        )
    )
    if out is not None and result.annotated_png is not None:
        out.write_bytes(result.annotated_png)
        err.print(f"wrote {escape(str(out))}")
    rows = [
        {
            "box": list(d.box),
            "label": d.label,
            "class_id": d.class_id,
            "score": d.score,
            "area_ratio": d.area_ratio,
            "center_distance_ratio": d.center_distance_ratio,
        }
        for d in result.detections
    ]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "image": str(image),
                    "width": result.width,
                    "height": result.height,
                    "detector": result.detector,
                    "detections": rows,
                }
            )
        )
        return
    table = Table(title=f"{image} ({result.width}x{result.height}, {result.detector})")
    for column in ("label", "score", "box"):
        table.add_column(column)
    for row in rows:
        table.add_row(escape(str(row["label"])), f"{row['score']:.3f}", str(row["box"]))
    Console().print(table)
