"""``pixembed bench``: pixembed's inference path vs open_clip eager fp32, and a real server under load."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console
from rich.table import Table

from pixembed.cli import bench_http as http
from pixembed.cli import bench_model as mm
from pixembed.runtime.loading import load_model
from pixembed.runtime.precision import DTYPES

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
    threads: Annotated[int | None, typer.Option(help="torch threads (default: torch's choice)")] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="tiny batches and few requests: a smoke run")
    ] = False,
    serve_http: Annotated[bool, typer.Option("--http/--no-http", help="also measure a real server")] = True,
    json_path: Annotated[Path | None, typer.Option("--json", help="also write every figure here")] = None,
) -> None:
    """Images/s, texts/s and HTTP latency of pixembed vs open_clip eager fp32, measured side by side."""
    if threads is not None:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="pixembed-bench-") as tmp:
        folder = Path(tmp)
        if weights is None and pretrained is None and model != "pixembed-tiny":
            weights = mm.write_random_weights(model, folder)
            out.print(f"{model}: random weights (seed 1234), written to a temp file")
        results = _model_only(model, pretrained, weights, precision, quick)
        if serve_http:
            results["http"] = _http(model, pretrained, weights, precision, threads, quick, folder)
    results["settings"] = {"model": model, "precision_asked": precision, "threads": torch.get_num_threads()}
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2, default=_plain))
        out.print(f"wrote {json_path}")


def _model_only(
    model: str, pretrained: str | None, weights: Path | None, precision: str, quick: bool
) -> dict[str, Any]:
    reference = load_model(model, pretrained, weights, precision="fp32").module
    started = time.perf_counter()
    ours = load_model(model, pretrained, weights, precision=precision)
    load_s = time.perf_counter() - started
    batches, reps, text_batch = ((1, 4), 1, 4) if quick else ((1, 8, 32), 3, 32)
    rows = mm.image_throughput(reference, ours, batches, reps)
    rows.append(mm.text_throughput(reference, ours, text_batch, reps))
    cached_ms = mm.cached_prompt_ms(ours)
    gflop = mm.image_gflop(reference, ours.info.image_size)
    peaks = {"fp32": mm.matmul_peak_gflops(torch.float32)}
    if ours.info.precision in ("bf16", "fp16") and ours.info.device == "cpu":
        peaks[ours.info.precision] = mm.matmul_peak_gflops(DTYPES[ours.info.precision])
    peak = peaks.get(ours.info.precision, peaks["fp32"])
    biggest = max((row for row in rows if row.what == "images"), key=lambda row: row.batch)

    table = Table(title=f"{ours.info.name}: open_clip eager fp32 vs pixembed ({ours.info.precision})")
    for column in ("what", "batch", "open_clip /s", "pixembed /s", "ratio", "min cosine"):
        table.add_column(column, justify="right")
    for row in rows:
        ratio = row.pixembed_per_s / row.reference_per_s
        table.add_row(
            row.what,
            str(row.batch),
            f"{row.reference_per_s:.1f}",
            f"{row.pixembed_per_s:.1f}",
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


def _http(
    model: str,
    pretrained: str | None,
    weights: Path | None,
    precision: str,
    threads: int | None,
    quick: bool,
    folder: Path,
) -> dict[str, Any]:
    args = ["--model", model, "--precision", precision]
    args += ["--weights", str(weights)] if weights is not None else []
    args += ["--pretrained", pretrained] if pretrained is not None else []
    if threads is not None:
        # serve has no --threads option; the setting travels as its environment variable.
        os.environ["PIXEMBED_THREADS"] = str(threads)
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
