"""Each CLI error is one line and an exit code, found before a model loads; a collection knows its model."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pixembed.cli import main
from pixembed.logs import make_handler
from pixembed.store import open_store
from pixembed.store.keys import KeyStore

# A model whose weights are not on this machine: a command that tried to load it would fail with a
# weights message, so an input error seen instead proves the inputs were checked first.
UNLOADABLE = "ViT-B-32"


def pixembed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """Run the real entry point in process: its exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["pixembed", *args])
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as stopped:
        main()
    out, err = capsys.readouterr()
    code = stopped.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out, err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No weights but the bundled model can be found, and no download is tried."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir holding "big", a collection of ViT-B-32 vectors (whose weights this machine lacks)."""
    folder = tmp_path / "data"
    store = open_store(folder)
    store.create_collection("big", f"{UNLOADABLE}/openai", 512)
    store.close()
    return folder


def test_search_checks_its_image_before_loading_the_model(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data: Path,
    tmp_path: Path,
    offline: None,
) -> None:
    search = ("search", "-c", "big", "--data-dir", str(data))
    code, out, err = pixembed(capsys, monkeypatch, *search, "--image", str(tmp_path / "nosuch.png"))
    assert code == 2 and out == ""
    assert one_line_error(err) == f"error: {tmp_path / 'nosuch.png'}: no such file"
    code, _, err = pixembed(capsys, monkeypatch, *search, "--image", str(tmp_path))
    assert code == 2
    assert one_line_error(err) == f"error: {tmp_path} is a folder, not an image file"
    code, _, err = pixembed(capsys, monkeypatch, *search, "--text", "x", "--filter", "{nope")
    assert code == 2 and "--filter is not valid JSON" in one_line_error(err)
    code, _, err = pixembed(
        capsys, monkeypatch, "search", "-c", "nothing", "--text", "x", "--data-dir", str(data)
    )
    assert code == 2 and "nothing" in one_line_error(err)


def test_search_and_index_use_the_collections_model_and_refuse_another(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    catalogue: Path,
    tmp_path: Path,
    offline: None,
) -> None:
    data = str(tmp_path / "data")
    index = ("index", str(catalogue), "-c", "products", "--data-dir", data)
    code, out, err = pixembed(capsys, monkeypatch, *index, "-m", "pixembed-tiny")
    assert code == 1, err  # the catalogue's broken.jpg was skipped
    # The README's line, as printed: no --model, the collection's own is used.
    readme = ("search", "--collection", "products", "--text", "a red circle", "--top-k", "3")
    code, out, err = pixembed(capsys, monkeypatch, *readme, "--data-dir", data)
    assert code == 0, err
    assert [json.loads(line)["id"].split("/")[0] for line in out.splitlines()] == ["circle"] * 3
    code, out, err = pixembed(
        capsys, monkeypatch, "index", str(catalogue), "-c", "products", "--data-dir", data
    )
    assert code == 1, err
    assert json.loads(out) == {"collection": "products", "indexed": 0, "unchanged": 12, "failed": 1}

    for command in (["search", "--text", "x"], ["index", str(catalogue)]):
        code, out, err = pixembed(
            capsys, monkeypatch, *command, "-c", "products", "-m", UNLOADABLE, "--data-dir", data
        )
        assert code == 2 and out == ""
        assert one_line_error(err) == (
            "error: collection 'products' holds 128-d vectors from pixembed-tiny; "
            f"{UNLOADABLE} would make vectors that do not mix with them: leave out --model to use "
            "pixembed-tiny, or pick another collection"
        )


def test_embed_skips_every_bad_file_alike_and_maps_rows_to_files(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    shape_files: dict[str, Path],
    tmp_path: Path,
) -> None:
    red, blue = str(shape_files["a red circle"]), str(shape_files["a blue square"])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    missing = tmp_path / "missing.png"
    out = tmp_path / "v.npy"
    args = ("embed", red, str(broken), str(missing), blue, "-m", "pixembed-tiny")
    code, stdout, err = pixembed(capsys, monkeypatch, *args, "--out", str(out))
    assert code == 1
    assert "Traceback" not in err
    assert f"skipped {broken}:" in err and f"skipped {missing}: {missing}: no such file" in err
    assert "2 of 4 files skipped" in err
    vectors = np.load(out)
    rows = json.loads((tmp_path / "v.files.json").read_text())
    assert vectors.shape == (2, 128) and rows == [red, blue]
    # The same rows as the JSON lines give for those files.
    code, stdout, err = pixembed(capsys, monkeypatch, *args)
    assert code == 1 and "2 of 4 files skipped" in err
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["file"] for line in lines] == rows
    np.testing.assert_allclose(vectors, np.array([line["embedding"] for line in lines]), atol=1e-6)

    code, _, err = pixembed(
        capsys, monkeypatch, "embed", red, "-m", UNLOADABLE, "--out", str(tmp_path / "v.txt")
    )
    assert code == 2 and one_line_error(err) == f"error: --out must end in .npy (got {tmp_path / 'v.txt'})"
    code, _, err = pixembed(capsys, monkeypatch, "embed", str(missing), "-m", UNLOADABLE)
    assert code == 2 and "none of the files could be read" in err


def test_serve_checks_the_port_before_loading_the_model(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, offline: None
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = pixembed(capsys, monkeypatch, "serve", "--port", str(port), "-m", UNLOADABLE)
    assert code == 2
    line = one_line_error(err)
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use;")
    assert "pass --port with a free port" in line


def test_keys_list_fits_80_columns_with_full_scopes_and_all_shows_revoked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = KeyStore(tmp_path / "keys.sqlite")
    _, shop = store.create("shop-frontend", ("read",), "100000/month", "20/s")
    _, ops = store.create("ops", ("read", "write", "admin"), None, None)
    _, old = store.create("old", ("read", "write"), None, None)
    store.revoke("old")
    store.close()
    code, out, err = pixembed(capsys, monkeypatch, "keys", "list", "--data-dir", str(tmp_path))
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    assert ops.id in out and shop.id in out and "read,write,admin" in out and "100000/month" in out
    assert old.id not in out and "1 revoked key not shown: --all shows them" in err
    code, out, _ = pixembed(capsys, monkeypatch, "keys", "list", "--all", "--data-dir", str(tmp_path))
    assert max(len(line) for line in out.splitlines()) <= 80
    assert old.id in out and "revoked" in out and "read,write" in out and "…" not in out


def test_json_log_lines_carry_no_ansi_colour_copy() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("uvicorn.error.test")
    logger.addHandler(make_handler("json", stream))
    logger.propagate = False
    # What uvicorn itself logs: the message twice, once with ANSI colours for its console formatter.
    logger.warning("Started server process [%d]", 7, extra={"color_message": "Started \x1b[36m%d\x1b[0m"})
    line = json.loads(stream.getvalue())
    assert line["message"] == "Started server process [7]"
    assert "color_message" not in line and "\x1b" not in stream.getvalue()


def test_a_real_run_prints_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pixembed", "compare", str(tmp_path), "-l", "a cat", "-m", "pixembed-tiny"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {tmp_path} is a folder, not an image file"
