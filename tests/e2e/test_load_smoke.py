"""A few seconds of benchmarks/load.py, so the 60 s load script keeps working (its full run is not in CI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load.py"
KINDS = {"embed", "embed_text", "search", "compare"}


# Generous for a loaded 2-core CI box, but a stall (a request waiting out a timeout, a lock held across a
# forward pass) shows: 4 clients on the tiny model answer in tens of milliseconds when all is well.
MAX_P99_MS = 5000


@pytest.mark.parametrize("with_key", [False, True], ids=["open", "with-key"])
def test_the_load_script_runs_clean_and_answers_right(tmp_path: Path, with_key: bool) -> None:
    out = tmp_path / "load.json"
    command = [sys.executable, str(SCRIPT), "--clients", "4", "--duration", "2", "--warmup", "0.5"]
    command += ["--json", str(out), "--max-p99-ms", str(MAX_P99_MS)] + (["--with-key"] if with_key else [])
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(out.read_text())
    assert summary["with_key"] is with_key
    assert summary["server_errors"] == {}
    assert summary["requests"] > 0 and summary["rss_start_mb"] > 0
    assert {status.split()[0] for status in summary["statuses"]} == set(KINDS)
    assert all(status.split()[1] == "200" for status in summary["statuses"])
    # Answers under load equal the idle server's: vectors, best prompts, top hits.
    assert summary["wrong_answers"] == {}
    assert set(summary["answers_checked"]) == set(KINDS)
    assert sum(summary["answers_checked"].values()) == summary["requests"]
    assert summary["p99_ms"] <= MAX_P99_MS
