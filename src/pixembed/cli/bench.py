"""``pixembed bench``: open_clip eager fp32, pixembed's chosen path and a plain ONNX Runtime fp32 session,
side by side at batch 1 and 16, and a real server under load with 1 and 16 clients. Needs pixembed[torch]."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pixembed.errors import InvalidRequest
from pixembed.runtime.options import LoadOptions

out = Console()


def bench(
    model: Annotated[
        str, typer.Option("--model", "-m", help="open_clip model name or pixembed-tiny")
    ] = "ViT-B-32",
    weights: Annotated[
        Path | None, typer.Option(help="checkpoint file; default: random weights (seed 1234)")
    ] = None,
    pretrained: Annotated[str | None, typer.Option(help="pretrained tag, instead of --weights")] = None,
    precision: Annotated[
        str, typer.Option(help="pixembed's precision: auto, fp32, bf16, int8, fp16")
    ] = "auto",
    runtime: Annotated[str, typer.Option(help="pixembed's runtime: auto, onnx or torch")] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch threads (default: torch's choice)")] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="tiny batches and few requests: a smoke run")
    ] = False,
    serve_http: Annotated[bool, typer.Option("--http/--no-http", help="also measure a real server")] = True,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write every figure here")] = None,
) -> None:
    """Images/s, texts/s and HTTP latency: open_clip eager fp32, pixembed, plain ONNX fp32, side by side."""
    from pixembed.runtime.loading import torch_installed

    if not torch_installed():
        raise InvalidRequest(
            "pixembed bench measures against open_clip: install it with pip install 'pixembed[torch]'"
        )
    # torch and open_clip only when the command runs: the CLI's import stays free of model runtimes.
    import torch

    from pixembed.cli import bench_model as mm

    if threads is not None:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="pixembed-bench-") as tmp:
        folder = Path(tmp)
        if weights is None and pretrained is None and model != "pixembed-tiny":
            weights = mm.write_random_weights(model, folder)
            out.print(f"{model}: random weights (seed 1234), written to a temp file")
        options = LoadOptions(
            model,
            pretrained,
            weights,
            runtime=runtime,
            precision=precision,
            threads=threads,
            data_dir=folder / "data",
        )
        results = _model_only(options, quick)
        if serve_http:
            results["http"] = _http(options, quick, folder)
    results["settings"] = {
        "model": model,
        "precision_asked": precision,
        "runtime_asked": runtime,
        "threads": torch.get_num_threads(),
    }
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2, default=_plain))
        out.print(f"wrote {json_path}")


def _model_only(options: LoadOptions, quick: bool) -> dict[str, Any]:
    import torch

    from pixembed.cli import bench_model as mm
    from pixembed.runtime.loading import load_model
    from pixembed.runtime.torch_loading import load_open_clip
    from pixembed.runtime.torch_precision import DTYPES

    reference = load_open_clip(options).module
    started = time.perf_counter()
    ours = load_model(options)
    load_s = time.perf_counter() - started
    # The peers' path: the same export, one fp32 ONNX Runtime session, no batcher and no checks.
    plain = load_model(options, runtime="onnx", precision="fp32").session
    batches, reps, text_batch = ((1, 4), 1, 4) if quick else ((1, 16), 5, 16)
    rows = mm.image_throughput(reference, ours, plain, batches, reps)
    rows.append(mm.text_throughput(reference, ours, plain, text_batch, reps))
    cached_ms = mm.cached_prompt_ms(ours)
    gflop = mm.image_gflop(reference, ours.info.image_size)
    peaks = {"fp32": mm.matmul_peak_gflops(torch.float32)}
    if ours.info.precision in ("bf16", "fp16") and ours.info.device == "cpu":
        peaks[ours.info.precision] = mm.matmul_peak_gflops(DTYPES[ours.info.precision])
    peak = peaks.get(ours.info.precision, peaks["fp32"])
    biggest = max((row for row in rows if row.what == "images"), key=lambda row: row.batch)

    served = f"{ours.info.runtime} {ours.info.precision}"
    table = Table(title=f"{ours.info.name}: open_clip eager fp32 vs pixembed ({served}) vs plain ONNX fp32")
    columns = ("what", "batch", "open_clip /s", "pixembed /s", "onnx fp32 /s", "pixembed ratio", "min cosine")
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        ratio = row.pixembed_per_s / row.reference_per_s
        table.add_row(
            row.what,
            str(row.batch),
            f"{row.reference_per_s:.1f}",
            f"{row.pixembed_per_s:.1f}",
            f"{row.onnx_per_s:.1f}",
            f"{ratio:.2f}x",
            f"{row.min_cosine:.5f}",
        )
    out.print(table)
    achieved = gflop * biggest.pixembed_per_s
    peak_name = ours.info.precision if ours.info.precision in peaks else "fp32"
    peaks_text = ", ".join(f"{name} {value:.0f}" for name, value in peaks.items())
    out.print(
        f"load (with the precision check) {load_s:.1f} s; cached prompt {cached_ms:.3f} ms; "
        f"image tower {gflop:.2f} GFLOP/img; at batch {biggest.batch}: "
        f"open_clip {gflop * biggest.reference_per_s:.0f}, pixembed {achieved:.0f} GFLOP/s = "
        f"{achieved / peak:.0%} of the {peak_name} matmul peak measured here (GFLOP/s: {peaks_text})"
    )
    return {
        "model": dataclasses.asdict(ours.info),
        "load_s": load_s,
        "throughput": [dataclasses.asdict(row) for row in rows],
        "cached_prompt_ms": cached_ms,
        "image_gflop": gflop,
        "matmul_peak_gflops": peaks,
        "achieved_gflops": achieved,
        "model_only_batch_per_s": biggest.pixembed_per_s,
    }


def _http(options: LoadOptions, quick: bool, folder: Path) -> dict[str, Any]:
    from pixembed.cli import bench_http as http
    from pixembed.cli import bench_model as mm

    args = ["--model", options.model, "--precision", options.precision]
    args += ["--weights", str(options.weights)] if options.weights is not None else []
    args += ["--pretrained", options.pretrained] if options.pretrained is not None else []
    # serve has no --threads/--runtime options; those settings travel as environment variables.
    os.environ["PIXEMBED_RUNTIME"] = options.runtime
    if options.threads is not None:
        os.environ["PIXEMBED_THREADS"] = str(options.threads)
    one_mp = mm.jpeg_bytes(mm.photo_like(1155, 866, seed=1))
    plans = [("1 MP", one_mp, 1, 2), ("1 MP", one_mp, 4, 1)]
    if not quick:
        twelve_mp = mm.jpeg_bytes(mm.photo_like(4000, 3000, seed=2))
        plans = [
            ("1 MP", one_mp, 1, 20),
            ("12 MP", twelve_mp, 1, 10),
            ("1 MP", one_mp, 16, 4),
            ("12 MP", twelve_mp, 16, 2),
        ]
    with http.serve(args, folder / "data") as server:
        rss_ready = server.rss_mb()
        loads = [http.measure_load(server.url, label, jpeg, clients, n) for label, jpeg, clients, n in plans]
        rss_after = server.rss_mb()
    table = Table(title="HTTP POST /v1/embed, one JPEG per request (pixembed serve on 127.0.0.1)")
    for column in ("image", "clients", "requests", "errors", "p50 ms", "p99 ms", "images/s"):
        table.add_column(column, justify="right")
    for r in loads:
        table.add_row(
            r.label,
            str(r.clients),
            str(r.requests),
            str(r.errors),
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{r.per_s:.1f}",
        )
    out.print(table)
    out.print(
        f"server: ready {server.ready_s:.1f} s after start; "
        f"RSS {rss_ready:.0f} MB when ready, {rss_after:.0f} MB after the load"
    )
    return {
        "ready_s": server.ready_s,
        "rss_mb_ready": rss_ready,
        "rss_mb_after": rss_after,
        "loads": [dataclasses.asdict(r) for r in loads],
    }


def _plain(value: object) -> object:
    return str(value)
