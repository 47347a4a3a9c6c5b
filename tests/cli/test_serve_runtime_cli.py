"""``pixembed serve --runtime/--precision``: a bad value is a clear message and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--runtime", "tensorrt", "use auto, onnx, torch"), ("--precision", "fp8", "use auto, fp32, bf16")],
)
def test_unknown_runtime_or_precision_is_refused_before_loading(
    option: str, value: str, message: str
) -> None:
    env = os.environ | {"PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-m", "pixembed", "serve", "--model", "pixembed-tiny", option, value],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
