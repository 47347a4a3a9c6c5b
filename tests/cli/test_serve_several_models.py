"""``pixembed serve`` with several models: ``--model A --model B`` as a real process, and the models-file
mistakes that stop it before the port opens (exit code 2, one line, no traceback)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def _serve(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(SRC), "PIXEMBED_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "pixembed", "serve", *args]
    if "--port" not in args:
        return subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=120)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


@pytest.mark.slow
def test_two_models_from_the_command_line(tmp_path: Path, shape_images: dict[str, list[bytes]]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = _serve(
        "--model", "pixembed-tiny", "--model", "efficientnet-lite0", "--port", str(port), data_dir=tmp_path
    )
    assert isinstance(process, subprocess.Popen)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            process.kill()
            raise AssertionError(process.communicate()[0])
        served = httpx.get(f"{base}/v1/models").json()["served"]
        assert [(m["name"], m["loaded"], m["dimensions"]) for m in served] == [
            ("pixembed-tiny", True, 128),
            ("efficientnet-lite0", True, 1280),
        ]
        png = shape_images["a red circle"][0]
        photo = httpx.post(f"{base}/v1/embed", files={"image": png}, data={"model": "efficientnet-lite0"})
        assert (photo.status_code, photo.json()["dimensions"]) == (200, 1280)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--model", "pixembed-tiny", "--models-file", "models.toml"),
            "give --model or --models-file, not both",
        ),
        (("--models-file", "missing.toml"), "cannot read the models file"),
        (("--models-file", "models.toml"), "models.0.weight: Extra inputs are not permitted"),
        (("--models-file", "broken.toml"), "ONNX Runtime serves fp32 and int8"),
    ],
)
def test_models_file_mistakes_stop_serve_before_the_port_opens(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    (tmp_path / "models.toml").write_text('[[models]]\nname = "pixembed-tiny"\nweight = "x"\n')
    # The second model cannot load (ONNX Runtime has no bf16): serve fails fast rather than serve without it.
    (tmp_path / "broken.toml").write_text(
        '[[models]]\nname = "pixembed-tiny"\n'
        '[[models]]\nname = "tiny-bf16"\nmodel = "pixembed-tiny"\nruntime = "onnx"\nprecision = "bf16"\n'
    )
    paths = tuple(str(tmp_path / a) if a.endswith(".toml") else a for a in args)
    done = _serve(*paths, data_dir=tmp_path / "data")
    assert isinstance(done, subprocess.CompletedProcess)
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
