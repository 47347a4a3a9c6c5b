"""Commands that need no model import no model runtime: torch, open_clip, ONNX Runtime stay unloaded."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
RUNTIMES = ("torch", "open_clip", "onnxruntime", "transformers", "torchvision")
PROBE = """
import json, sys
from pixembed.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {runtimes!r} if m in sys.modules)))
"""


def _loaded_runtimes(args: list[str]) -> list[str]:
    env = os.environ | {"PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(runtimes=RUNTIMES), *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "args",
    [["--help"], ["keys", "list"], ["collections", "list"], ["serve", "--help"], ["bench", "--help"]],
    ids=["help", "keys-list", "collections-list", "serve-help", "bench-help"],
)
def test_commands_without_a_model_import_no_model_runtime(args: list[str], tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)] if args[-1] == "list" else []
    assert _loaded_runtimes(args + data) == []


def test_help_is_quick() -> None:
    """Generous on a shared CI machine; the figure to quote comes from a quiet one (README)."""
    env = os.environ | {"PYTHONPATH": str(SRC)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pixembed", "--help"], check=False, capture_output=True, env=env, timeout=60
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0
    assert b"serve" in done.stdout
    assert elapsed < 5.0, f"pixembed --help took {elapsed:.2f} s"


@pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is not None,
    reason="pyarrow is installed; this is the core install's case",
)
def test_parquet_export_on_the_core_install_says_what_to_install(tmp_path: Path) -> None:
    """pyarrow (170 MB) is an extra: without it, a .parquet export is one line naming pixembed[parquet]."""
    command = [sys.executable, "-m", "pixembed", "collections", "export", "products", "--out"]
    done = subprocess.run(
        [*command, str(tmp_path / "products.parquet"), "--data-dir", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(SRC)},
        timeout=60,
    )
    assert done.returncode != 0
    assert "pixembed[parquet]" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
