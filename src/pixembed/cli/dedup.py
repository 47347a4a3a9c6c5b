"""``pixembed dedup DIR`` and ``pixembed cluster DIR``: JSON, an HTML report, a safe move of duplicates.

The services are imported inside the commands: scikit-learn and the API's result shapes would otherwise
add seconds to every ``pixembed`` start.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from PIL import Image
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from pixembed.cli.app import (
    CliError,
    ModelOpt,
    PretrainedOpt,
    WeightsOpt,
    app,
    err,
    load_cli_model,
    make_settings,
)
from pixembed.cli.report import cluster_report, dedup_report, thumbnail_uri
from pixembed.config import DEFAULT_MODEL
from pixembed.errors import PixembedError
from pixembed.imaging import decode_image
from pixembed.services.indexing import find_images

JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON on stdout")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="write the JSON result to this file")]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="write a self-contained HTML report here")]


def _progress() -> Progress:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=err)


def _read_folder(
    folder: Path, max_pixels: int, on_progress: Callable[[float], None]
) -> tuple[list[Path], list[Image.Image]]:
    """Decoded images under ``folder``; unreadable files are reported on stderr and left out."""
    if not folder.is_dir():
        raise CliError(f"{folder} is not a folder")
    paths = find_images(folder)
    kept, images = [], []
    for position, path in enumerate(paths):
        try:
            images.append(decode_image(path.read_bytes(), max_pixels=max_pixels))
            kept.append(path)
        except (PixembedError, OSError) as exc:
            reason = exc.message if isinstance(exc, PixembedError) else str(exc)
            err.print(f"[yellow]skipped[/] {escape(str(path))}: {escape(reason)}")
        on_progress((position + 1) / max(len(paths), 1))
    if not images:
        raise CliError(f"no readable images under {folder}")
    return kept, images


def _catalogue(
    folder: Path, hashes: list[str], model_wanted: bool, model_opts: tuple[str, str | None, Path | None]
) -> tuple[list[Path], list[Image.Image], Any, Any]:
    from pixembed.services.catalogue import catalogue_from_images

    settings = make_settings(*model_opts)
    loaded = load_cli_model(settings) if model_wanted else None
    with _progress() as progress:
        task = progress.add_task("reading", total=1.0)
        paths, images = _read_folder(
            folder, settings.max_image_pixels, lambda f: progress.update(task, completed=f)
        )
        work = progress.add_task("hashing + embedding" if loaded else "hashing", total=1.0)
        cat = catalogue_from_images(
            images,
            [p.relative_to(folder).as_posix() for p in paths],
            [p.stat().st_size for p in paths],
            [p.stat().st_mtime for p in paths],
            hash_methods=hashes,
            model=loaded,
            batch_size=settings.batch_size,
            on_progress=lambda f: progress.update(work, completed=f),
        )
    return paths, images, cat, loaded


def _emit(result: dict[str, Any], as_json: bool, out: Path | None) -> None:
    text = json.dumps(result, indent=2)
    if out is not None:
        out.write_text(text)
        err.print(f"wrote {escape(str(out))}")
    if as_json:
        typer.echo(text)


def plan_moves(folder: Path, paths: list[Path], target: Path) -> list[tuple[Path, Path]]:
    """Where each file would go under ``target`` (same relative path; a free name if one is taken)."""
    moves, taken = [], set()
    for path in paths:
        destination = target / path.relative_to(folder)
        stem, suffix, n = destination.stem, destination.suffix, 1
        while destination.exists() or destination in taken:
            destination = destination.with_name(f"{stem}-{n}{suffix}")
            n += 1
        taken.add(destination)
        moves.append((path, destination))
    return moves


def move_without_overwriting(source: Path, destination: Path) -> None:
    """Copy into a file that must not exist yet ("x" mode), then remove the source: never overwrites."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as reader, destination.open("xb") as writer:
        shutil.copyfileobj(reader, writer)
    shutil.copystat(source, destination)
    os.unlink(source)


@app.command()
def dedup(
    folder: Annotated[Path, typer.Argument(help="folder of images, searched recursively")],
    method: Annotated[
        str,
        typer.Option(
            help="combined (pHash, dHash and cosine must agree), phash, dhash, ahash, whash, semantic"
        ),
    ] = "combined",
    hash_threshold: Annotated[int | None, typer.Option(help="max differing bits of 64")] = None,
    similarity_threshold: Annotated[float | None, typer.Option(help="min cosine similarity")] = None,
    keep: Annotated[str, typer.Option(help="resolution, size or oldest (file mtime)")] = "resolution",
    as_json: JsonOpt = False,
    out: OutOpt = None,
    report: ReportOpt = None,
    move_duplicates: Annotated[
        Path | None,
        typer.Option(help="move the copies safe to drop into this folder (never deletes; borderline stay)"),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="with --move-duplicates: really move")] = False,
    model: ModelOpt = DEFAULT_MODEL,
    pretrained: PretrainedOpt = None,
    weights: WeightsOpt = None,
) -> None:
    """Find duplicate images under FOLDER: groups, the copy to keep, and the ones to drop."""
    from pixembed.api.results import dedup_answer
    from pixembed.services.analysis import dedup_inputs
    from pixembed.services.dedup import check_keep, check_method, find_duplicates, resolve_thresholds

    chosen, rule = check_method(method), check_keep(keep)
    resolve_thresholds(chosen, hash_threshold, similarity_threshold)
    hashes, vectors = dedup_inputs(chosen)
    paths, images, cat, _ = _catalogue(folder, hashes, vectors, (model, pretrained, weights))
    found = find_duplicates(cat, chosen, hash_threshold, similarity_threshold, rule)
    result = dedup_answer(cat, found).model_dump(mode="json")
    _emit(result, as_json, out)
    if report is not None:
        involved = {i for g in result["groups"] for i in g["members"]}
        thumbs = {item_id: thumbnail_uri(images[int(item_id)]) for item_id in involved}
        report.write_text(dedup_report(result, thumbs))
        err.print(f"wrote report {escape(str(report))}")
    err.print(
        f"{len(result['groups'])} duplicate groups, {len(result['drop'])} files to drop, "
        f"{len(result['borderline'])} borderline (reported, never moved)"
    )
    if move_duplicates is not None:
        move_safe_copies(folder, paths, result, move_duplicates, yes)


def evidence_text(copy: dict[str, Any], result: dict[str, Any]) -> str:
    """A copy's evidence against its keeper, beside the thresholds: "pHash 3/14 bits, cosine 0.97/0.85"."""
    parts = []
    if copy["distance"] is not None:
        bits = result["hash_threshold"]
        parts.append(f"{copy['distance']}{'' if bits is None else f'/{bits}'} bits")
    if copy["similarity"] is not None:
        cosine = result["similarity_threshold"]
        parts.append(f"cosine {copy['similarity']:.3f}{'' if cosine is None else f'/{cosine}'}")
    return ", ".join(parts)


def move_safe_copies(
    folder: Path, paths: list[Path], result: dict[str, Any], target: Path, yes: bool
) -> None:
    """Move the safe copies (each listed with its distance to its keeper); list the borderline ones."""
    copies = {c["id"]: (g["keep"], c) for g in result["groups"] for c in g["copies"]}
    safe = [copies[i] for i in result["drop"]]
    moves = plan_moves(folder, [paths[int(c["id"])] for _, c in safe], target)
    for (keeper, copy), (source, destination) in zip(safe, moves, strict=True):
        if yes:
            move_without_overwriting(source, destination)
        typer.echo(
            f"{'moved' if yes else 'would move'} {source} -> {destination} "
            f"(copy of {paths[int(keeper)].name}: {evidence_text(copy, result)}; {copy['reason']})",
            err=True,
        )
    for item_id in result["borderline"]:
        keeper, copy = copies[item_id]
        typer.echo(
            f"borderline, not moved: {paths[int(item_id)]} "
            f"(near {paths[int(keeper)].name}: {evidence_text(copy, result)})",
            err=True,
        )
    if not yes and moves:
        err.print("dry run: nothing moved; add --yes to move these files")


@app.command()
def cluster(
    folder: Annotated[Path, typer.Argument(help="folder of images, searched recursively")],
    method: Annotated[str, typer.Option(help="kmeans, hdbscan or threshold")] = "kmeans",
    k: Annotated[
        int | None, typer.Option(help="k-means clusters (default: best silhouette of 2..20)")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="cosine distance for threshold clustering")] = None,
    min_cluster_size: Annotated[int | None, typer.Option(help="HDBSCAN's minimum cluster size")] = None,
    labels: Annotated[list[str] | None, typer.Option("--label", "-l", help="zero-shot label; repeat")] = None,
    label_threshold: Annotated[
        float | None, typer.Option(help="label probability below which a name is 'unknown' (default 0.9)")
    ] = None,
    as_json: JsonOpt = False,
    out: OutOpt = None,
    report: ReportOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    pretrained: PretrainedOpt = None,
    weights: WeightsOpt = None,
) -> None:
    """Cluster the images under FOLDER, optionally naming clusters from --label texts."""
    from pixembed.api.results import clustering_answer
    from pixembed.services.analysis import cluster_catalogue
    from pixembed.services.clustering import check_cluster_method

    chosen = check_cluster_method(method)
    settings = make_settings(model, pretrained, weights)
    _, images, cat, loaded = _catalogue(folder, [], True, (model, pretrained, weights))
    outcome = cluster_catalogue(
        cat, loaded, chosen, k=k, threshold=threshold, min_cluster_size=min_cluster_size,
        labels=labels, label_threshold=label_threshold, settings=settings,
    )  # fmt: skip
    result = clustering_answer(cat, outcome, chosen).model_dump(mode="json")
    _emit(result, as_json, out)
    if report is not None:
        thumbs = {item_id: thumbnail_uri(images[int(item_id)]) for item_id in cat.ids}
        report.write_text(cluster_report(result, thumbs))
        err.print(f"wrote report {escape(str(report))}")
    err.print(f"{result['k']} clusters, {len(result['noise'])} noise")
