"""The pixembed command line, with the tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from pixembed.cli import app

runner = CliRunner()


def test_embed_writes_json_lines(shape_files: dict[str, Path]) -> None:
    paths = [str(p) for p in shape_files.values()]
    result = runner.invoke(app, ["embed", *paths, "--model", "pixembed-tiny"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == paths
    for line in lines:
        assert len(line["embedding"]) == line["dimensions"]
        assert abs(np.linalg.norm(line["embedding"]) - 1) < 1e-4


def test_embed_npy_output(shape_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "vectors.npy"
    paths = [str(p) for p in shape_files.values()]
    result = runner.invoke(app, ["embed", *paths, "--model", "pixembed-tiny", "--out", str(out)])
    assert result.exit_code == 0, result.output
    vectors = np.load(out)
    assert vectors.shape[0] == len(paths)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_embed_reports_a_bad_file_and_exits_1(shape_files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    result = runner.invoke(
        app, ["embed", str(shape_files["a red circle"]), str(bad), "--model", "pixembed-tiny"]
    )
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert "notes.jpg" in result.stderr


def test_compare_ranks_the_right_label_first(shape_files: dict[str, Path]) -> None:
    labels = [arg for caption in shape_files for arg in ("--labels", caption)]
    image = str(shape_files["a green triangle"])
    result = runner.invoke(app, ["compare", image, *labels, "--model", "pixembed-tiny", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ranking"][0]["label"] == "a green triangle"


def test_embed_text_and_models_list() -> None:
    result = runner.invoke(app, ["embed-text", "a red circle", "a blue square", "--model", "pixembed-tiny"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()] == [
        "a red circle",
        "a blue square",
    ]
    listed = runner.invoke(app, ["models", "list"])
    assert "pixembed-tiny" in listed.stdout
    assert "ViT-B-32" in listed.stdout


def test_models_list_documents_the_offline_photo_model() -> None:
    listed = runner.invoke(app, ["models", "list", "--json"])
    entries = {e["id"]: e for e in map(json.loads, listed.stdout.splitlines())}
    photo = entries["efficientnet-lite0"]
    assert photo["text_tower"] is False
    assert "offline photo model" in photo["description"]
    assert entries["pixembed-tiny"]["text_tower"] is True


def test_serve_without_weights_exits_fast_with_instructions(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIXEMBED_", "HF_"))}
    env |= {"HF_HOME": str(tmp_path), "HF_ENDPOINT": "http://127.0.0.1:9", "HOME": str(tmp_path)}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pixembed", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert time.monotonic() - start < 30
    assert done.returncode == 2
    assert "ViT-B-32 (openai)" in done.stderr
    assert "--weights" in done.stderr


def test_serve_refuses_a_public_address_without_the_flag() -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--model", "pixembed-tiny"])
    assert result.exit_code != 0
