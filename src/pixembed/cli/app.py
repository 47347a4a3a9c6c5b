"""The ``pixembed`` command line. Thin: parse arguments, call services, turn errors into messages."""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import anyio
import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pixembed.cli.bench import bench
from pixembed.config import DEFAULT_MODEL, Settings
from pixembed.errors import InvalidRequest, PixembedError

if TYPE_CHECKING:
    from pixembed.runtime.model import ClipModel
    from pixembed.runtime.pool import ModelPool

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Self-hosted CLIP embeddings, comparison and visual search.",
)
models_app = typer.Typer(
    no_args_is_help=True, pretty_exceptions_enable=False, help="Models pixembed can load."
)
app.add_typer(models_app, name="models")
err = Console(stderr=True)

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="open_clip model name, hf-hub:ORG/REPO, or pixembed-tiny")
]
PretrainedOpt = Annotated[str | None, typer.Option(help="pretrained tag, e.g. openai or laion2b_s34b_b79k")]
WeightsOpt = Annotated[Path | None, typer.Option(help="a local checkpoint file or open_clip model folder")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(help="where collections live (PIXEMBED_DATA_DIR; default ~/.local/share/pixembed)"),
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        help="store location instead: qdrant://host:6333, qdrant+local:PATH, postgresql://user@host/db"
    ),
]
StateOpt = Annotated[
    str | None,
    typer.Option(
        help="keys, quotas, jobs, thumbnails and catalogue in PostgreSQL, shared by replicas: "
        "postgresql://USER:PASSWORD@HOST/DB (PIXEMBED_STATE; default SQLite files in the data directory)"
    ),
]


class CliError(Exception):
    """A usage problem found by the CLI itself, reported like a pixembed error."""


def make_settings(model: str, pretrained: str | None, weights: Path | None, **extra: object) -> Settings:
    """Settings from the environment, overridden by the options given (None means not given)."""
    given = {k: v for k, v in extra.items() if v is not None}
    return Settings(model=model, pretrained=pretrained, weights=weights, **given)  # type: ignore[arg-type]


def load_cli_model(settings: Settings) -> ClipModel:
    """Load the model the settings name, with a spinner on stderr."""
    from pixembed.runtime.loading import load_model_from_settings

    with err.status(f"loading {settings.model} ..."):
        return load_model_from_settings(settings)


def load_cli_models(settings: Settings) -> ModelPool:
    """The server's model pool, its models marked to load at start loaded (with a spinner); the first that
    fails to load raises its error."""
    from pixembed.runtime.pool import ModelPool

    pool = ModelPool.from_settings(settings)
    with err.status(f"loading {', '.join(pool.names)} ..."):
        pool.load_at_start(strict=True)
    return pool


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="open_clip model name, hf-hub:ORG/REPO, pixembed-tiny or efficientnet-lite0; repeat it to "
            "serve several (the first is the default; requests pick one with 'model')",
        ),
    ] = None,
    models_file: Annotated[
        Path | None,
        typer.Option(help="a TOML (or JSON) file naming each served model and its settings (docs/models.md)"),
    ] = None,
    model_memory_mb: Annotated[
        float | None,
        typer.Option(help="memory for models: over it, loading one unloads the least recently used"),
    ] = None,
    pretrained: PretrainedOpt = None,
    weights: WeightsOpt = None,
    precision: Annotated[
        str,
        typer.Option(
            help="auto, fp32, int8 (ONNX Runtime), bf16 or fp16 (torch); fast paths are checked against fp32"
        ),
    ] = "auto",
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    runtime: Annotated[
        str, typer.Option(help="auto (ONNX Runtime unless the precision needs torch), onnx, or torch")
    ] = "auto",
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    state: StateOpt = None,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="allow a non-loopback address without API keys")
    ] = False,
    detector: Annotated[
        str | None, typer.Option(help="clip-regions (default, no extra weights) or owlv2 (transformers)")
    ] = None,
) -> None:
    """Run the HTTP server. The models loaded at start load before the port opens, so a bad one fails fast."""
    import uvicorn

    if detector not in (None, "clip-regions", "owlv2"):
        raise CliError(f"unknown detector {detector!r}: use clip-regions or owlv2")
    from pixembed.runtime.options import RUNTIMES
    from pixembed.runtime.precision import PRECISIONS

    if runtime not in RUNTIMES:
        raise CliError(f"unknown runtime {runtime!r}: use {', '.join(RUNTIMES)}")
    if precision not in PRECISIONS:
        raise CliError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")

    from pixembed.api.app import create_app

    if model and models_file is not None:
        raise CliError("give --model or --models-file, not both: the models file names every served model")
    settings = make_settings(
        model[0] if model else DEFAULT_MODEL,
        pretrained,
        weights,
        extra_models=model[1:] if model else None,
        models_file=models_file,
        model_memory_mb=model_memory_mb,
        host=host,
        port=port,
        precision=precision,
        device=device,
        runtime=runtime,
        data_dir=data_dir,
        store=store,
        state=state,
        detector=detector,
    )
    if not _is_loopback(host) and not _any_keys(settings) and not insecure_no_auth:
        raise CliError(
            f"refusing to listen on {host} without API keys: create one with `pixembed keys create`, "
            "set PIXEMBED_API_KEYS, or pass --insecure-no-auth to expose it anyway (only behind your "
            "own authenticating proxy)"
        )
    check_port_free(host, port)  # before the model loads: a busy port fails in a moment, not after it
    pool = load_cli_models(settings)
    from pixembed.api.app import load_detector_from_settings

    with err.status(f"loading the {settings.detector} detector ..."):
        found = load_detector_from_settings(settings)  # None: CLIP region scoring, built on first use
    for served in pool.models():
        dimensions = f"{served.info.dimensions}-d" if served.info is not None else "loads on first use"
        default = ", default" if served.default else ""
        err.print(f"[green]{escape(served.name)}[/] ({dimensions}{default})")
    err.print(f"serving on http://{host}:{port}")
    if host in ("0.0.0.0", "::") and not settings.allowed_hosts:
        err.print(
            "answering Host names localhost, 127.0.0.1, [::1] and IP addresses only: add the names clients "
            "use (or a proxy forwards) to PIXEMBED_ALLOWED_HOSTS"
        )
    from pixembed.logs import configure_logging

    configure_logging(settings.log_format)
    # Our middleware logs each request as JSON with its id, so uvicorn's own access log is off. On
    # SIGTERM uvicorn stops accepting, lets in-flight requests finish for up to shutdown_grace_s, then exits.
    from pixembed.api.server import uvicorn_options

    uvicorn.run(
        create_app(settings, detector=found, models=pool),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
        **uvicorn_options(settings),
    )


def check_port_free(host: str, port: int) -> None:
    """Fail with a clear message when ``host:port`` cannot be listened on (in use, or not this machine's)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CliError(
            f"cannot listen on {host}: {exc.strerror}; pass --host with an address of this machine"
        ) from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As uvicorn does, so a port left in TIME_WAIT by a server that just stopped counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            hint = (
                "another server (a pixembed serve?) is using it: stop it or pass --port with a free port"
                if exc.errno == errno.EADDRINUSE
                else "pass --host/--port with an address and port this user may listen on"
            )
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}; {hint}") from exc


def _any_keys(settings: Settings) -> bool:
    """True when the server will ask for keys: PIXEMBED_API_KEYS, or a key store that ever held a key."""
    if settings.api_keys:
        return True
    if not settings.state and not settings.key_store_path.exists():
        return False
    from pixembed.services.state import open_state_from_settings

    state = open_state_from_settings(settings)
    try:
        return state.keys.has_ever_had_keys()
    finally:
        state.close()


@app.command()
def embed(
    files: Annotated[list[Path], typer.Argument(help="image files")],
    model: ModelOpt = DEFAULT_MODEL,
    pretrained: PretrainedOpt = None,
    weights: WeightsOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(help="write a .npy matrix here, not JSON lines; its rows' files go in .files.json"),
    ] = None,
) -> None:
    """Embed image files: one JSON line per file on stdout, or a .npy matrix with --out.

    A file that cannot be read or decoded is skipped with a warning; the others are embedded, and the exit
    code is then 1.
    """
    from pixembed.services.embedding import embed_image_sources
    from pixembed.services.inputs import ImageSource

    if out is not None:
        check_writable_output(out, ".npy")
    settings = make_settings(model, pretrained, weights)
    sources, skipped = [], 0
    for path in files:
        try:
            sources.append(ImageSource("bytes", _read(path), str(path)))
        except InvalidRequest as exc:
            warn_skipped(str(path), exc.message)
            skipped += 1
    if not sources:
        raise CliError("none of the files could be read: check the paths")
    loaded = load_cli_model(settings)
    settings = settings.model_copy(update={"max_batch_items": max(len(sources), 1)})
    results = anyio.run(embed_image_sources, loaded, sources, settings)
    failed = [r for r in results if r.error is not None]
    for r in failed:
        assert r.error is not None
        warn_skipped(str(r.name), r.error.message)
    embedded = [(str(r.name), r.vector) for r in results if r.vector is not None]
    if out is not None:
        vectors = (
            np.stack([vector for _, vector in embedded])
            if embedded
            else np.zeros((0, loaded.info.dimensions), np.float32)
        )
        np.save(out, vectors)
        # Row i of the matrix is the i-th file here; skipped files have no row.
        rows = out.with_suffix(".files.json")
        rows.write_text(json.dumps([name for name, _ in embedded], indent=0) + "\n")
        err.print(
            f"wrote {vectors.shape[0]} x {vectors.shape[1]} vectors to {escape(str(out))} "
            f"and their files, row by row, to {escape(str(rows))}",
            soft_wrap=True,
        )
    else:
        for r in results:
            if r.vector is not None:
                line = {
                    "file": r.name,
                    "model": loaded.info.name,
                    "dimensions": loaded.info.dimensions,
                    "embedding": [round(float(x), 7) for x in r.vector],
                }
                typer.echo(json.dumps(line))
    if failed or skipped:
        err.print(f"[yellow]{len(failed) + skipped} of {len(files)} files skipped[/]")
        raise typer.Exit(EXIT_PARTIAL)


@app.command("embed-text")
def embed_text(
    texts: Annotated[list[str], typer.Argument(help="texts to embed")],
    model: ModelOpt = DEFAULT_MODEL,
    pretrained: PretrainedOpt = None,
    weights: WeightsOpt = None,
) -> None:
    """Embed texts: one JSON line per text on stdout."""
    from pixembed.services.embedding import embed_texts

    settings = make_settings(model, pretrained, weights)
    loaded = load_cli_model(settings)
    vectors = anyio.run(embed_texts, loaded, texts, settings)
    for text, vector in zip(texts, vectors, strict=True):
        line = {
            "text": text,
            "model": loaded.info.name,
            "dimensions": loaded.info.dimensions,
            "embedding": [round(float(x), 7) for x in vector],
        }
        typer.echo(json.dumps(line))


@app.command()
def compare(
    image: Annotated[Path, typer.Argument(help="the image to classify")],
    labels: Annotated[list[str], typer.Option("--labels", "-l", help="a label; repeat for more")],
    model: ModelOpt = DEFAULT_MODEL,
    pretrained: PretrainedOpt = None,
    weights: WeightsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Zero-shot: compare an image with text labels, best first."""
    from pixembed.services.compare import compare as compare_service
    from pixembed.services.inputs import ImageSource

    settings = make_settings(model, pretrained, weights)
    source = ImageSource("bytes", _read(image), str(image))
    loaded = load_cli_model(settings)
    result = anyio.run(compare_service, loaded, source, labels, settings)
    ranked = sorted(zip(labels, result.similarities, result.probabilities, strict=True), key=lambda r: -r[1])
    if as_json:
        rows = [{"label": lab, "similarity": s, "probability": p} for lab, s, p in ranked]
        typer.echo(json.dumps({"model": loaded.info.name, "image": str(image), "ranking": rows}))
        return
    table = Table(title=f"{image} ({loaded.info.name})")
    for column in ("label", "similarity", "probability"):
        table.add_column(column)
    for lab, s, p in ranked:
        table.add_row(lab, f"{s:.4f}", f"{p:.1%}")
    Console().print(table)


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """List the bundled models, the image-only ones (the offline photo model) and every open_clip pair."""
    from pixembed.runtime.registry import known_models

    for known in known_models():
        if as_json:
            entry = {"id": known.id, "model": known.model, "pretrained": known.pretrained}
            typer.echo(json.dumps(entry | {"text_tower": known.text_tower, "description": known.description}))
        else:
            typer.echo(f"{known.model:40} {known.pretrained or known.description or '(bundled)'}")


app.command("bench")(bench)


def _read(path: Path) -> bytes:
    """A file's bytes; an InvalidRequest naming the file and the problem where it cannot be read."""
    if path.is_dir():
        raise InvalidRequest(f"{path} is a folder, not an image file")
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidRequest(f"{path}: no such file") from exc
    except OSError as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.strerror}") from exc


def warn_skipped(name: str, reason: str) -> None:
    """One line on stderr for an input that was skipped."""
    err.print(f"[yellow]skipped[/] {escape(name)}: {escape(reason)}", soft_wrap=True)


def check_writable_output(out: Path, suffix: str) -> None:
    """Refuse an output path with the wrong suffix or in a missing folder, before any work is done."""
    if out.suffix != suffix:
        raise CliError(f"--out must end in {suffix} (got {out})")
    if not out.parent.is_dir():
        raise CliError(f"cannot write {out}: the folder {out.parent} does not exist")


# Exit codes (README "CLI"): 0 done; 1 done, but some inputs were skipped (each named on stderr); 2 nothing
# done: bad arguments or input, unknown collection, model or weights unavailable, port in use; 70 a bug in
# pixembed (PIXEMBED_DEBUG=1 shows its traceback); 130 interrupted.
EXIT_PARTIAL, EXIT_ERROR, EXIT_BUG, EXIT_INTERRUPTED = 1, 2, 70, 130


def main() -> None:
    """Entry point: run the app; every error is one line on stderr and an exit code, never a traceback."""
    import os

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except (PixembedError, CliError) as exc:
        message = exc.message if isinstance(exc, PixembedError) else str(exc)
        err.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        if os.environ.get("PIXEMBED_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))} (a bug in pixembed: "
            "PIXEMBED_DEBUG=1 shows the traceback for a report)",
            soft_wrap=True,
        )
        sys.exit(EXIT_BUG)
