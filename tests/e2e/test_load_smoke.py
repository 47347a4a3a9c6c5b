"""A few seconds of benchmarks/load.py, so the 60 s load script keeps working (its full run is not in CI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load.py"


def test_the_load_script_runs_clean(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--clients",
            "4",
            "--duration",
            "2",
            "--warmup",
            "0.5",
            "--json",
            str(out),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(out.read_text())
    assert summary["server_errors"] == {}
    assert summary["requests"] > 0 and summary["rss_start_mb"] > 0
    assert {status.split()[0] for status in summary["statuses"]} == {
        "embed",
        "embed_text",
        "search",
        "compare",
    }
    assert all(status.split()[1] == "200" for status in summary["statuses"])
