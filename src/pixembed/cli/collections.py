"""``pixembed index``, ``pixembed search`` and ``pixembed collections ...``: collections from the shell."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Annotated, Any

import anyio
import numpy as np
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pixembed.cli.app import (
    EXIT_PARTIAL,
    CliError,
    DataDirOpt,
    PretrainedOpt,
    StateOpt,
    StoreOpt,
    WeightsOpt,
    _read,
    app,
    err,
    load_cli_model,
    make_settings,
    warn_skipped,
)
from pixembed.config import DEFAULT_MODEL, Settings
from pixembed.errors import InvalidRequest, NotFound
from pixembed.services.collections import Query, create_collection, open_collections, search_collection
from pixembed.services.indexing import IndexJob, IndexReport, find_images, index_paths
from pixembed.services.inputs import ImageSource
from pixembed.services.ray_indexing import import_ray, index_paths_with_ray
from pixembed.services.thumbnails import open_thumbnails
from pixembed.store import VectorStore, parse_filter

collections_app = typer.Typer(
    no_args_is_help=True, pretty_exceptions_enable=False, help="Stored collections."
)
app.add_typer(collections_app, name="collections")
CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="collection name")]
CollectionModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="open_clip model name, hf-hub:ORG/REPO, or pixembed-tiny; default: the collection's own model "
        f"(a new collection: {DEFAULT_MODEL})",
    ),
]


def model_of_collection(
    opened: VectorStore, collection: str, model: str | None, pretrained: str | None
) -> tuple[str, str | None]:
    """The model (and pretrained tag) to embed for ``collection``: its own unless ``model`` names another.

    A collection keeps the model it was made with (its vectors only mix with that model's), so naming a
    different one is refused here, before anything loads. A new collection gets ``model`` or the default.
    """
    try:
        info = opened.get_collection(collection)
    except NotFound:
        return model or DEFAULT_MODEL, pretrained
    # A collection records the loaded model's label: pixembed-tiny, ViT-B-32/openai, hf-hub:ORG/REPO.
    own, own_tag = info.model, ""
    if not own.startswith("hf-hub:"):
        own, _, own_tag = own.partition("/")
    asked = f"{model}/{pretrained}" if pretrained else model
    if model is not None and (model != own or (pretrained and own_tag and pretrained != own_tag)):
        raise CliError(
            f"collection {collection!r} holds {info.dimensions}-d vectors from {info.model}; {asked} would "
            f"make vectors that do not mix with them: leave out --model to use {info.model}, or pick another "
            "collection"
        )
    return own, pretrained or own_tag or None


def _store(
    data_dir: Path | None, store: str | None, state: str | None = None
) -> tuple[Settings, VectorStore]:
    settings = make_settings(DEFAULT_MODEL, None, None, data_dir=data_dir, store=store, state=state)
    return settings, open_collections(settings)


@app.command()
def index(
    folder: Annotated[Path, typer.Argument(help="folder of images, searched recursively")],
    collection: CollectionOpt,
    model: CollectionModelOpt = None,
    pretrained: PretrainedOpt = None,
    weights: WeightsOpt = None,
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    state: StateOpt = None,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="decode and embed in a Ray Data pipeline (needs the ray extra); a local Ray unless "
            "--ray-address is given",
        ),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="with --ray: a running cluster (ray://host:10001 or auto); FOLDER must be mounted at the "
            "same path on its nodes"
        ),
    ] = None,
) -> None:
    """Embed every image under FOLDER into a collection; re-runs skip files already indexed."""
    if not folder.is_dir():
        raise CliError(f"{folder} is not a folder")
    if ray_address is not None and not ray:
        raise CliError("--ray-address only applies with --ray")
    if ray:
        # Before the model loads, so that a missing Ray fails at once.
        try:
            import_ray()
        except InvalidRequest as exc:
            # The message names the extra as pixembed[ray], which rich would take for markup.
            raise CliError(escape(exc.message)) from exc
    opened = open_collections(make_settings(DEFAULT_MODEL, None, None, data_dir=data_dir, store=store))
    model, pretrained = model_of_collection(opened, collection, model, pretrained)
    settings = make_settings(model, pretrained, weights, data_dir=data_dir, store=store, state=state)
    loaded = load_cli_model(settings)
    try:
        opened.get_collection(collection)
    except NotFound:
        create_collection(opened, loaded, collection)
        err.print(escape(f"created collection {collection!r} for {loaded.info.name}"))
    paths = find_images(folder)
    columns = (
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.1f} img/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("index", total=len(paths), rate=0.0)

        def update(report: IndexReport) -> None:
            elapsed = progress.tasks[0].elapsed or 1e-9
            progress.update(task, completed=report.done, rate=report.indexed / elapsed)

        thumbnails = open_thumbnails(settings)
        job = IndexJob(opened, loaded, collection, folder, paths, settings, thumbnails)
        if ray:
            report = index_paths_with_ray(job, update, ray_address)
        else:
            report = anyio.run(index_paths, job, update)
    thumbnails.close()
    opened.close()
    for path, reason in sorted(report.failed.items()):
        warn_skipped(path, reason)
    typer.echo(
        json.dumps(
            {
                "collection": collection,
                "indexed": report.indexed,
                "unchanged": report.unchanged,
                "failed": len(report.failed),
            }
        )
    )
    if report.failed:  # like embed: the rest is indexed, the skipped files are named, the exit code says so
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def search(
    collection: CollectionOpt,
    text: Annotated[str | None, typer.Option(help="search by words")] = None,
    image: Annotated[Path | None, typer.Option(help="search by an image file")] = None,
    top_k: Annotated[int, typer.Option(help="how many results")] = 10,
    where: Annotated[
        str | None, typer.Option("--filter", help='metadata filter as JSON, e.g. {"colour": "red"}')
    ] = None,
    model: CollectionModelOpt = None,
    pretrained: PretrainedOpt = None,
    weights: WeightsOpt = None,
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
) -> None:
    """Search a collection by text or by image with the collection's own model: JSON lines, best first."""
    if (text is None) == (image is None):
        raise CliError("give exactly one of --text or --image")
    if top_k < 1:
        raise CliError("--top-k must be at least 1")
    # Every input is checked before the model loads: a typo fails in a moment, in one line.
    query_image = ImageSource("bytes", _read(image), str(image)) if image is not None else None
    raw_filter = _parse_json(where, "--filter") if where else None
    parsed_filter = parse_filter(raw_filter)
    opened = open_collections(make_settings(DEFAULT_MODEL, None, None, data_dir=data_dir, store=store))
    opened.get_collection(collection)  # NotFound names the collection
    model, pretrained = model_of_collection(opened, collection, model, pretrained)
    settings = make_settings(model, pretrained, weights, data_dir=data_dir, store=store)
    loaded = load_cli_model(settings)
    query = Query(text=text, image=query_image)
    matches = anyio.run(search_collection, opened, loaded, collection, query, top_k, parsed_filter, settings)
    for match in matches:
        typer.echo(json.dumps({"id": match.id, "score": round(match.score, 6), "metadata": match.metadata}))


@collections_app.command("list")
def list_collections(data_dir: DataDirOpt = None, store: StoreOpt = None) -> None:
    """Every collection, with its model, dimensions and count."""
    for info in _store(data_dir, store)[1].list_collections():
        typer.echo(
            json.dumps(
                {"name": info.name, "model": info.model, "dimensions": info.dimensions, "count": info.count}
            )
        )


@collections_app.command("info")
def info(name: str, data_dir: DataDirOpt = None, store: StoreOpt = None) -> None:
    """One collection's model, dimensions and count."""
    found = _store(data_dir, store)[1].get_collection(name)
    typer.echo(
        json.dumps(
            {"name": found.name, "model": found.model, "dimensions": found.dimensions, "count": found.count}
        )
    )


@collections_app.command("delete")
def delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="do it without asking")] = False,
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    state: StateOpt = None,
) -> None:
    """Delete a collection and all its items (and their thumbnails, in the --state if given)."""
    settings, opened = _store(data_dir, store, state)
    count = opened.get_collection(name).count
    if not yes and not typer.confirm(f"delete {name!r} and its {count} items?"):
        raise typer.Exit(1)
    opened.delete_collection(name)
    thumbnails = open_thumbnails(settings)
    thumbnails.delete_collection(name)
    thumbnails.close()
    err.print(escape(f"deleted {name!r} ({count} items)"))


@collections_app.command("export")
def export(
    name: str,
    out: Annotated[Path, typer.Option(help="a .npy file (vectors; ids beside it) or a .parquet file")],
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
) -> None:
    """Export vectors, ids and metadata to .npy (+ .ids.json) or .parquet (pixembed[parquet])."""
    if out.suffix not in (".npy", ".parquet"):
        raise CliError("--out must end in .npy or .parquet")
    if out.suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise CliError("writing .parquet needs pyarrow: pip install 'pixembed[parquet]', or export to .npy")
    opened = _store(data_dir, store)[1]
    info_ = opened.get_collection(name)
    records = [r for batch in opened.scan(name) for r in batch]
    vectors = (
        np.stack([r.vector for r in records]) if records else np.zeros((0, info_.dimensions), np.float32)
    )
    if out.suffix == ".npy":
        np.save(out, vectors)
        sidecar = out.with_suffix(".ids.json")
        sidecar.write_text(json.dumps([{"id": r.id, "metadata": r.metadata} for r in records]))
        err.print(escape(f"wrote {vectors.shape[0]} x {info_.dimensions} to {out} and ids to {sidecar}"))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {
                "id": [r.id for r in records],
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), info_.dimensions),
                "metadata": [json.dumps(r.metadata) for r in records],
            }
        )
        pq.write_table(table, out)
        err.print(f"wrote {len(records)} rows to {escape(str(out))}")


def _parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON: {exc}") from exc
