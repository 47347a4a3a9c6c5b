"""``pixembed bench`` with the tiny model: the quick model-only run, and (slow) the real server under load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixembed.cli import app

runner = CliRunner()


def test_quick_bench_compares_open_clip_pixembed_and_plain_onnx_and_writes_every_figure(
    tmp_path: Path,
) -> None:
    report = tmp_path / "bench.json"
    result = runner.invoke(
        app, ["bench", "--model", "pixembed-tiny", "--quick", "--no-http", "--json", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "open_clip eager fp32 vs pixembed" in result.output and "plain ONNX fp32" in result.output
    figures = json.loads(report.read_text())
    rows = {(row["what"], row["batch"]): row for row in figures["throughput"]}
    assert set(rows) == {("images", 1), ("images", 4), ("texts", 4)}
    for row in rows.values():
        assert row["reference_per_s"] > 0 and row["pixembed_per_s"] > 0 and row["onnx_per_s"] > 0
        assert row["min_cosine"] >= 0.999  # the same weights, and any fast precision checked at load
    assert (figures["model"]["runtime"], figures["model"]["precision"]) in {
        ("onnx", "fp32"),
        ("onnx", "int8"),
    }
    assert 0 < figures["cached_prompt_ms"] < 1
    assert figures["image_gflop"] > 0 and figures["matmul_peak_gflops"]["fp32"] > 0
    assert "http" not in figures


@pytest.mark.slow
def test_quick_bench_measures_a_real_server_without_errors(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", "--model", "pixembed-tiny", "--quick", "--json", str(report)])
    assert result.exit_code == 0, result.output
    served = json.loads(report.read_text())["http"]
    assert [(load["clients"], load["requests"], load["errors"]) for load in served["loads"]] == [
        (1, 2, 0),
        (4, 4, 0),
    ]
    assert all(load["p50_ms"] > 0 for load in served["loads"])
    assert served["ready_s"] > 0 and served["rss_mb_ready"] > 50
