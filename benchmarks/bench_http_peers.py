"""pixembed serve against the servers a user would otherwise run, over HTTP, in one run (issue 15's targets).

Same random ViT-B/32 weights (seed 1234), same 1 MP JPEG, multipart ``POST /v1/embed``, 1 client then 16
concurrent clients, one server at a time on loopback:
- naive: FastAPI + open_clip eager fp32, one image per call (benchmarks/peer_servers.py naive);
- ort: FastAPI + ONNX Runtime fp32, one image per call, immich's way (benchmarks/peer_servers.py ort, on the
  very ONNX graph pixembed exported);
- pixembed: ``pixembed serve`` (started from its ONNX cache, so its start-to-ready time is that path's).

Run: ``PYTHONPATH=src python benchmarks/bench_http_peers.py [--precision auto] [--per-client 4]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from pixembed.cli import bench_http as http
from pixembed.cli import bench_model as mm
from pixembed.runtime.loading import load_model, ready_onnx_folder
from pixembed.runtime.options import LoadOptions

PEERS = Path(__file__).with_name("peer_servers.py")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--precision", default="auto", help="pixembed's precision (auto, fp32, int8)")
    parser.add_argument("--single", type=int, default=20, help="requests from the single client")
    parser.add_argument("--per-client", type=int, default=4, help="requests per client with 16 clients")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="pixembed-peers-") as tmp:
        folder = Path(tmp)
        weights = mm.write_random_weights("ViT-B-32", folder)
        options = LoadOptions("ViT-B-32", weights=weights, data_dir=folder / "data")
        # Exports once (the ort peer and pixembed serve share the graph) and makes auto's choice, so that
        # pixembed serve starts the way it restarts: from the ONNX cache with its choice remembered.
        load_model(options, precision=args.precision)
        onnx = ready_onnx_folder(options)
        assert onnx is not None
        jpeg = mm.jpeg_bytes(mm.photo_like(1155, 866, seed=1))
        servers = {
            "naive FastAPI + open_clip": [sys.executable, str(PEERS), "naive", "--weights", str(weights)],
            "plain FastAPI + ONNX Runtime fp32": [
                sys.executable,
                str(PEERS),
                "ort",
                "--onnx",
                str(onnx.path),
            ],
        }
        rows = []
        for label, command in servers.items():
            port = http.free_port()
            with http.run_server([*command, "--port", str(port)], port, dict(os.environ)) as server:
                rows.append(_measure(label, server, jpeg, args))
        serve_args = ["--model", "ViT-B-32", "--weights", str(weights), "--precision", args.precision]
        with http.serve(serve_args, folder / "data") as server:
            rows.append(_measure(f"pixembed serve ({args.precision})", server, jpeg, args))
    load_after = os.getloadavg()
    naive, ort, ours = rows
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    heads = ("ready s", "RSS MB", "1 client p50 ms", "16 clients img/s", "errors")
    print(f"{'server':38} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, (8, 7, 16, 17, 6), strict=True)))
    for row in rows:
        print(
            f"{row['server']:38} {row['ready_s']:8.1f} {row['rss_mb']:7.0f} {row['one_p50_ms']:16.1f} "
            f"{row['sixteen_per_s']:17.2f} {row['errors']:6d}"
        )
    print(
        f"pixembed at 16 clients: {ours['sixteen_per_s'] / naive['sixteen_per_s']:.2f}x the naive server, "
        f"{ours['sixteen_per_s'] / ort['sixteen_per_s']:.2f}x the plain ONNX Runtime server; one client p50 "
        f"{ours['one_p50_ms'] / ort['one_p50_ms']:.2f}x the plain ONNX Runtime server's"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"load": [load_before, load_after], "servers": rows}, indent=2))


def _measure(label: str, server: http.Server, jpeg: bytes, args: argparse.Namespace) -> dict[str, object]:
    rss = server.rss_mb()
    one = http.measure_load(server.url, label, jpeg, 1, args.single)
    time.sleep(1.0)
    sixteen = http.measure_load(server.url, label, jpeg, 16, args.per_client)
    return {
        "server": label,
        "ready_s": server.ready_s,
        "rss_mb": rss,
        "one_p50_ms": one.p50_ms,
        "one_p99_ms": one.p99_ms,
        "sixteen_per_s": sixteen.per_s,
        "sixteen_p50_ms": sixteen.p50_ms,
        "errors": one.errors + sixteen.errors,
    }


if __name__ == "__main__":
    main()
